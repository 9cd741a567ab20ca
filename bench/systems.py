"""The registry of benchmarked systems: this project on each provider set, and the peers.

Extension point: a new LiteFlow provider set (Azure queue + lock, RabbitMQ queue, Redis lock,
...) is one more `System` with `ours=True`, a `probe` that says why it cannot run (package not
importable, server down) and a `providers` factory returning the keyword arguments of
`configure_workflow_host` plus a cleanup callable. The orchestrator and the report pick it up
from `SYSTEMS` with no other change. A new peer is a `System` with `ours=False`, an `EnvSpec`
and a driver script in bench/peers/ speaking the protocol of `bench/peers/driver_common.py`.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .envs import EnvSpec, EnvUnavailableError, ensure_env

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PEERS_DIR = BENCH_DIR / "peers"

Cleanup = Callable[[], None]
#: Builds the providers of one host: (keyword arguments for configure_workflow_host, cleanup).
ProviderFactory = Callable[[Path], tuple[dict[str, Any], Cleanup]]


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class System:
    """One column of the report."""

    name: str
    label: str
    ours: bool
    #: Returns None when the system can run, else the reason it is skipped.
    probe: Callable[[bool], str | None]
    #: The command that runs one measurement; the JSON spec is appended as the last argument.
    command: Callable[[], list[str]]
    #: Our systems only: the providers handed to configure_workflow_host.
    providers: ProviderFactory | None = None
    #: Fixed entries added to every spec sent to the driver (e.g. a peer's storage variant).
    extra: dict[str, Any] = field(default_factory=dict)
    #: One line for the report: what exactly runs.
    about: str = ""


# --- this project --------------------------------------------------------------------------


def _our_command() -> list[str]:
    return [sys.executable, "-m", "bench.liteflow_driver"]


def _memory_providers(workdir: Path) -> tuple[dict[str, Any], Cleanup]:
    from liteflow.core import MemoryPersistenceProvider

    return {"persistence_service": MemoryPersistenceProvider()}, _nothing


def _always(allow_install: bool) -> str | None:
    return None


def _sqlite_probe(allow_install: bool) -> str | None:
    try:
        from liteflow.core.sqlite import SqlitePersistenceProvider  # noqa: F401
    except Exception as exc:
        return f"liteflow.core.sqlite not importable ({type(exc).__name__}: {exc})"
    return None


def _sqlite_providers(workdir: Path) -> tuple[dict[str, Any], Cleanup]:
    from liteflow.core.sqlite import SqlitePersistenceProvider

    provider = SqlitePersistenceProvider(str(workdir / "liteflow-bench.sqlite"))
    return {"persistence_service": provider}, _nothing


MONGO_URI = os.environ.get("LITEFLOW_MONGO_URI", "mongodb://127.0.0.1:27018/")


def _server_up(uri: str, default_port: int) -> bool:
    parts = urlsplit(uri)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _mongo_probe(allow_install: bool) -> str | None:
    try:
        import liteflow_mongo  # noqa: F401
    except Exception as exc:
        return f"liteflow_mongo not importable ({type(exc).__name__}: {exc})"
    if not _server_up(MONGO_URI, 27017):
        return f"no MongoDB server at {MONGO_URI} (set LITEFLOW_MONGO_URI)"
    return None


def _mongo_providers(workdir: Path) -> tuple[dict[str, Any], Cleanup]:
    from liteflow_mongo import MongoPersistenceProvider

    database = f"liteflow_bench_{uuid.uuid4().hex[:12]}"
    provider = MongoPersistenceProvider(MONGO_URI, database)

    def drop() -> None:
        try:
            import pymongo

            pymongo.MongoClient(MONGO_URI, serverSelectionTimeoutMS=2000).drop_database(database)
        except Exception as exc:
            print(f"could not drop {database}: {exc}", file=sys.stderr)

    return {"persistence_service": provider}, drop


POSTGRES_URL = os.environ.get("LITEFLOW_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_probe(allow_install: bool) -> str | None:
    try:
        import liteflow_postgres  # noqa: F401
    except Exception as exc:
        return f"liteflow_postgres not importable ({type(exc).__name__}: {exc})"
    if not _server_up(POSTGRES_URL, 5432):
        return f"no PostgreSQL server at {POSTGRES_URL} (set LITEFLOW_POSTGRES_URL)"
    return None


def postgres_admin(statement: str) -> None:
    """One statement outside a transaction on the bench's server (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement)


def fresh_postgres_database(prefix: str) -> tuple[str, Cleanup]:
    """A new database on the bench's server: its URL, and the cleanup that drops it."""
    from psycopg.conninfo import make_conninfo

    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    postgres_admin(f'CREATE DATABASE "{database}"')

    def drop() -> None:
        try:
            postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        except Exception as exc:
            print(f"could not drop {database}: {exc}", file=sys.stderr)

    return make_conninfo(POSTGRES_URL, dbname=database), drop


def _postgres_providers(workdir: Path) -> tuple[dict[str, Any], Cleanup]:
    from liteflow_postgres import PostgresPersistenceProvider

    dsn, drop = fresh_postgres_database("liteflow_bench")
    return {"persistence_service": PostgresPersistenceProvider(dsn)}, drop


# --- peers ---------------------------------------------------------------------------------

ORIGINAL_ENV = EnvSpec("original", ("liteflow.core==0.3.1",))
DBOS_ENV = EnvSpec("dbos", ("dbos",))


def _peer(env: EnvSpec, driver: str) -> tuple[Callable[[bool], str | None], Callable[[], list[str]]]:
    def probe(allow_install: bool) -> str | None:
        try:
            ensure_env(env, allow_install)
        except EnvUnavailableError as exc:
            return str(exc)
        except Exception as exc:
            return f"could not prepare {env.path}: {type(exc).__name__}: {exc}"
        return None

    def command() -> list[str]:
        return [str(env.python), str(PEERS_DIR / driver)]

    return probe, command


_original_probe, _original_command = _peer(ORIGINAL_ENV, "original_driver.py")
_dbos_probe, _dbos_command = _peer(DBOS_ENV, "dbos_driver.py")


def _dbos_postgres_probe(allow_install: bool) -> str | None:
    if not _server_up(POSTGRES_URL, 5432):
        return f"no PostgreSQL server at {POSTGRES_URL} (set LITEFLOW_POSTGRES_URL)"
    return _dbos_probe(allow_install)


SYSTEMS: dict[str, System] = {
    system.name: system
    for system in (
        System(
            "memory",
            "LiteFlow memory",
            True,
            _always,
            _our_command,
            _memory_providers,
            about="this project, MemoryPersistenceProvider + single-node queue and lock",
        ),
        System(
            "sqlite",
            "LiteFlow SQLite",
            True,
            _sqlite_probe,
            _our_command,
            _sqlite_providers,
            about="this project, SqlitePersistenceProvider (WAL, synchronous=NORMAL) on a temp file",
        ),
        System(
            "mongo",
            "LiteFlow MongoDB",
            True,
            _mongo_probe,
            _our_command,
            _mongo_providers,
            about=f"this project, MongoPersistenceProvider at {MONGO_URI}",
        ),
        System(
            "postgres",
            "LiteFlow PostgreSQL",
            True,
            _postgres_probe,
            _our_command,
            _postgres_providers,
            about=f"this project, PostgresPersistenceProvider at {POSTGRES_URL} (a fresh database per "
            "measurement, synchronous_commit=on), single-node queue and lock",
        ),
        System(
            "original",
            "liteflow.core 0.3.1",
            False,
            _original_probe,
            _original_command,
            about="the original from PyPI, its memory providers, in bench/.envs/original",
        ),
        System(
            "dbos",
            "DBOS SQLite",
            False,
            _dbos_probe,
            _dbos_command,
            extra={"variant": "default"},
            about="DBOS Transact as shipped: SQLite system database, rollback journal, synchronous=FULL",
        ),
        System(
            "dbos-postgres",
            "DBOS PostgreSQL",
            False,
            _dbos_postgres_probe,
            _dbos_command,
            extra={"variant": "postgres", "postgres_url": POSTGRES_URL},
            about=f"DBOS Transact on the PostgreSQL server at {POSTGRES_URL} (a fresh database per "
            "measurement, the server's synchronous_commit=on)",
        ),
        System(
            "dbos-wal",
            "DBOS SQLite WAL",
            False,
            _dbos_probe,
            _dbos_command,
            extra={"variant": "wal"},
            about="DBOS Transact on SQLite with WAL + synchronous=NORMAL (LiteFlow's SQLite settings)",
        ),
    )
}

#: What runs when --systems is not given (servers that are down are skipped with the reason).
DEFAULT_SYSTEMS = ("memory", "sqlite", "mongo", "postgres", "original", "dbos", "dbos-wal", "dbos-postgres")
#: --quick leaves out the second DBOS variant to stay within about a minute.
QUICK_SYSTEMS = ("memory", "sqlite", "mongo", "original", "dbos")
#: The ratio targets: (this project's system, the peer it is measured against, how many times
#: faster); issue 18 raised memory/original to 20x and sqlite/dbos to 30x.
DURABLE_PEERS = (
    ("memory", "original", 20.0),
    ("sqlite", "dbos", 30.0),
    ("sqlite", "dbos-wal", 8.0),
    ("postgres", "dbos-postgres", 10.0),
)
