"""Reachability of the real servers the integration tests talk to.

One policy for every provider test: in CI (``CI`` set) an unreachable server is a failure,
because a silently skipped suite proves nothing; on a developer's machine it is a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from pika import BlockingConnection
    from pika.adapters.blocking_connection import BlockingChannel

__all__ = [
    "AZURE_CONNECTION_STRING_ENV",
    "AZURE_DEFAULT_CONNECTION_STRING",
    "MONGO_DEFAULT_URI",
    "MONGO_URI_ENV",
    "RABBITMQ_DEFAULT_URL",
    "RABBITMQ_URL_ENV",
    "REDIS_DEFAULT_URLS",
    "REDIS_URLS_ENV",
    "delete_rabbitmq_queues",
    "drop_database",
    "drop_postgres_schema",
    "new_database_name",
    "POSTGRES_DEFAULT_URL",
    "POSTGRES_URL_ENV",
    "ping_azure",
    "ping_mongo",
    "ping_postgres",
    "postgres_admin",
    "postgres_test_database",
    "ping_rabbitmq",
    "ping_redis_servers",
    "rabbitmq_channel",
    "require_address",
    "require_azure",
    "require_azurite_on_default_ports",
    "require_chromium",
    "require_mongo",
    "require_postgres",
    "require_rabbitmq",
    "require_rabbitmq_control",
    "require_redis",
    "require_redis_control",
    "require_server",
    "restart_rabbitmq",
    "server_address",
    "ServerUnreachable",
    "services",
    "stopped_rabbitmq",
    "stopped_redis",
]


def server_address(env_var: str, default: str) -> str:
    """The address the tests use: `env_var` when set, else `default` (also read by subprocesses)."""
    return os.environ.get(env_var) or default


def redacted(address: str) -> str:
    """The address without secrets: URL passwords and connection-string keys or tokens."""
    address = re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", address)
    return re.sub(r"(?i)(AccountKey|SharedAccessSignature)=[^;]*", r"\1=***", address)


def require_server(name: str, env_var: str, default: str, probe: Callable[[str], None]) -> str:
    """Return the address of server `name` (from `env_var`, else `default`) once `probe` accepts it."""
    service = SERVICE_OF_VARIABLE.get(env_var)
    start = f" or run `bash scripts/services.sh start {service}`" if service else ""
    hint = f"set {env_var} to one{start}"
    return require_address(name, server_address(env_var, default), probe, hint)


class ServerUnreachable(pytest.skip.Exception):
    """The skip of a test whose server does not answer: ``tests/conftest.py`` reports these
    skips at this module rather than at each test, so pytest's summary has one line per server."""


#: Why each unreachable server's tests are skipped, so later tests skip at once with the same
#: reason, which pytest's summary then reports on one line per server rather than one per test.
_unreachable: dict[tuple[str, str], str] = {}


def require_address(name: str, address: str, probe: Callable[[str], None], hint: str = "") -> str:
    """Return `address` once `probe` accepts it: for a server that must be at a fixed address."""
    if os.environ.get("CI"):
        try:
            probe(address)
        except Exception as error:
            pytest.fail(f"{name} not reachable at {redacted(address)}: {error}", pytrace=False)
        return address
    key = (name, address)
    if key not in _unreachable:
        try:
            probe(address)
        except Exception as error:
            _unreachable[key] = f"{name} not reachable at {redacted(address)}: {error}" + (
                f"; to test it, {hint}" if hint else ""
            )
        else:
            return address
    raise ServerUnreachable(_unreachable[key])


MONGO_URI_ENV = "LITEFLOW_MONGO_URI"
MONGO_DEFAULT_URI = "mongodb://127.0.0.1:27018/"


def ping_mongo(uri: str) -> None:
    """Raise a one-line error when nothing answers (pymongo's own message spans the topology)."""
    from pymongo import MongoClient
    from pymongo.errors import ConnectionFailure

    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000
    )
    try:
        client.admin.command("ping")
    except ConnectionFailure as exc:
        raise ConnectionError("no answer to a ping within 2 s") from exc
    finally:
        client.close()


def require_mongo() -> str:
    """The MongoDB (or mongoeco wire server) address the tests use."""
    return require_server("MongoDB", MONGO_URI_ENV, MONGO_DEFAULT_URI, ping_mongo)


def new_database_name() -> str:
    return f"liteflow_test_{uuid.uuid4().hex}"


def drop_database(uri: str, name: str) -> None:
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(name)
    finally:
        client.close()


CHROMIUM_ENV = "LITEFLOW_CHROMIUM"
CHROMEDRIVER_ENV = "LITEFLOW_CHROMEDRIVER"


def _executables(paths: str) -> None:
    missing = [path for path in paths.split(",") if not (Path(path).is_file() and os.access(path, os.X_OK))]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} missing (apt-get install chromium chromium-driver)")


def require_chromium() -> tuple[str, str]:
    """Debian's Chromium and its ChromeDriver, for the dashboard's browser tests."""
    browser = server_address(CHROMIUM_ENV, "/usr/bin/chromium")
    driver = server_address(CHROMEDRIVER_ENV, "/usr/bin/chromedriver")
    require_address(
        "Chromium", f"{browser},{driver}", _executables, "run `bash scripts/services.sh start chromium`"
    )
    return browser, driver


POSTGRES_URL_ENV = "LITEFLOW_POSTGRES_URL"
POSTGRES_DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def ping_postgres(url: str) -> None:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error as exc:
        raise ConnectionError(" ".join(str(exc).split())) from exc


def require_postgres() -> str:
    """The PostgreSQL server the tests use (its URL names a database to connect to for admin work)."""
    return require_server("PostgreSQL", POSTGRES_URL_ENV, POSTGRES_DEFAULT_URL, ping_postgres)


_run_databases: dict[str, str] = {}


def postgres_test_database() -> str:
    """The DSN of this test run's own database: created on first use, dropped when the run ends.
    Each test then keeps to a schema of its own in it."""
    import atexit

    from psycopg.conninfo import make_conninfo

    server = require_postgres()
    if server not in _run_databases:
        name = f"liteflow_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        postgres_admin(server, f'CREATE DATABASE "{name}"')
        atexit.register(postgres_admin, server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _run_databases[server] = make_conninfo(server, dbname=name)
    return _run_databases[server]


def postgres_admin(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement)


def drop_postgres_schema(dsn: str, schema: str) -> None:
    postgres_admin(dsn, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


RABBITMQ_URL_ENV = "LITEFLOW_RABBITMQ_URL"
RABBITMQ_DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _rabbitmq_connection(url: str) -> BlockingConnection:
    """A plain pika connection with short timeouts, so a dead broker fails in seconds."""
    import pika

    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = 2.0
    parameters.stack_timeout = 3.0
    return pika.BlockingConnection(parameters)


def ping_rabbitmq(url: str) -> None:
    from pika.exceptions import AMQPError

    try:
        _rabbitmq_connection(url).close()
    except AMQPError as error:
        raise ConnectionError(repr(error)) from error  # pika's str() of it is often empty


def require_rabbitmq() -> str:
    return require_server("RabbitMQ", RABBITMQ_URL_ENV, RABBITMQ_DEFAULT_URL, ping_rabbitmq)


@contextmanager
def rabbitmq_channel(url: str) -> Iterator[BlockingChannel]:
    """A plain pika channel of its own connection, for looking at the broker's side of things."""
    connection = _rabbitmq_connection(url)
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def delete_rabbitmq_queues(url: str, names: Iterable[str]) -> None:
    with rabbitmq_channel(url) as channel:
        for name in names:
            channel.queue_delete(name)


REDIS_URLS_ENV = "LITEFLOW_REDIS_URLS"
REDIS_DEFAULT_URLS = "redis://127.0.0.1:6390/0,redis://127.0.0.1:6391/0,redis://127.0.0.1:6392/0"


def ping_redis_servers(urls: str) -> None:
    """Every server of the comma-separated list must answer (the fault tests stop one on purpose)."""
    import redis

    for url in urls.split(","):
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()


def require_redis() -> list[str]:
    """The three independent Redis servers of the Redlock tests."""
    urls = require_server("Redis", REDIS_URLS_ENV, REDIS_DEFAULT_URLS, ping_redis_servers).split(",")
    if len(urls) != 3:
        pytest.fail(f"{REDIS_URLS_ENV} must name three servers, got {urls}", pytrace=False)
    return urls


AZURE_CONNECTION_STRING_ENV = "LITEFLOW_AZURE_CONNECTION_STRING"
AZURE_DEFAULT_CONNECTION_STRING = "UseDevelopmentStorage=true"


def ping_azure(connection_string: str) -> None:
    """Both the blob and the queue service must answer (Azurite serves them on two ports)."""
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    options: dict[str, Any] = {"connection_timeout": 2, "read_timeout": 2, "retry_total": 0}
    for factory in (BlobServiceClient, QueueServiceClient):
        with factory.from_connection_string(connection_string, **options) as client:
            client.get_service_properties()


def require_azure() -> str:
    """The Azure Storage account (Azurite by default) as a connection string."""
    return require_server(
        "Azure Storage", AZURE_CONNECTION_STRING_ENV, AZURE_DEFAULT_CONNECTION_STRING, ping_azure
    )


def require_azurite_on_default_ports() -> str:
    """The emulator's development account at its well-known endpoints, which an account object
    with ``is_emulated=True`` means whatever ``LITEFLOW_AZURE_CONNECTION_STRING`` says."""
    return require_address(
        "Azurite on its default ports",
        AZURE_DEFAULT_CONNECTION_STRING,
        ping_azure,
        "run `bash scripts/services.sh start azurite`",
    )


#: The `scripts/services.sh` server behind each address variable.
SERVICE_OF_VARIABLE = {
    MONGO_URI_ENV: "mongo",
    POSTGRES_URL_ENV: "postgres",
    RABBITMQ_URL_ENV: "rabbitmq",
    REDIS_URLS_ENV: "redis",
    AZURE_CONNECTION_STRING_ENV: "azurite",
}

SERVICES_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "services.sh"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _on_this_machine(addresses: str) -> None:
    hosts = {urlsplit(address).hostname for address in addresses.split(",")}
    if not hosts <= LOCAL_HOSTS:
        raise RuntimeError(f"{sorted(map(str, hosts))} is not this machine, so it cannot be stopped here")


def _rabbitmqctl(*arguments: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *arguments], check=True, capture_output=True, timeout=120)


def _rabbitmqctl_available(url: str) -> None:
    _on_this_machine(url)
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError("rabbitmqctl is not installed here, so the broker cannot be stopped")
    _rabbitmqctl("await_startup", "--timeout", "10")  # and it reaches a running node


def require_rabbitmq_control() -> str:
    """The broker's URL, once it answers and ``rabbitmqctl`` on this machine can stop it."""
    require_rabbitmq()
    return require_server(
        "RabbitMQ control (rabbitmqctl)", RABBITMQ_URL_ENV, RABBITMQ_DEFAULT_URL, _rabbitmqctl_available
    )


def require_redis_control() -> list[str]:
    """The three Redis servers, once they answer and run on this machine (``services.sh`` stops them)."""
    urls = require_redis()
    require_server("Redis control (services.sh)", REDIS_URLS_ENV, REDIS_DEFAULT_URLS, _on_this_machine)
    return urls


def services(*arguments: str) -> None:
    """Run ``scripts/services.sh`` (install/start/stop test servers); fail with its error output."""
    result = subprocess.run(
        ["bash", str(SERVICES_SCRIPT), *arguments], capture_output=True, text=True, timeout=180, check=False
    )
    if result.returncode:
        command = " ".join(arguments)
        pytest.fail(f"scripts/services.sh {command} failed: {result.stderr.strip()}", pytrace=False)


@contextmanager
def stopped_redis(url: str) -> Iterator[None]:
    """The Redis server at `url` is down inside the block, and started again however it ends."""
    port = str(urlsplit(url).port)
    services("stop-redis", port)
    try:
        yield
    finally:
        services("start-redis", port)


@contextmanager
def stopped_rabbitmq(url: str) -> Iterator[None]:
    """The RabbitMQ application (its listener and every connection) is down inside the block;
    afterwards it runs again and accepts connections. ``rabbitmqctl stop_app``/``start_app`` take
    ~4 s, where ``services.sh restart-rabbitmq`` restarts the whole node and takes ~11 s."""
    _rabbitmqctl("stop_app")
    try:
        yield
    finally:
        from tests.support import wait_until  # tests.support imports this module

        _rabbitmqctl("start_app")
        wait_until(lambda: _answers(ping_rabbitmq, url), 60, 0.1, "RabbitMQ to accept connections")


def restart_rabbitmq(url: str) -> None:
    """Stop and start the RabbitMQ application (every client connection drops); see `stopped_rabbitmq`."""
    with stopped_rabbitmq(url):
        pass


def _answers(probe: Callable[[str], None], address: str) -> bool:
    try:
        probe(address)
    except Exception:
        return False
    return True
