"""A PostgreSQL server of a test's own, to stop and restart: never the machine's shared one.

``initdb`` into a temporary folder and ``pg_ctl`` on a free port, as the ``postgres`` user when
the tests run as root (PostgreSQL refuses to run as root). Skipped outside CI, failed in CI,
when the PostgreSQL server binaries are not installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.servers import require_address

__all__ = ["PrivatePostgres", "private_postgres"]


def _bin_dir() -> Path:
    """Where initdb and pg_ctl are (Debian keeps them out of PATH, under /usr/lib/postgresql)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not versions:
        raise FileNotFoundError("pg_ctl not found in PATH or /usr/lib/postgresql/*/bin")
    return Path(versions[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """One private server: its URL, and `stop` / `start` / `restart` (each waits until done)."""

    def __init__(self, folder: Path) -> None:
        self._bin = _bin_dir()
        self._data = folder / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._folder = folder
        self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self._bin / program), *arguments]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self._folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self._data), "-o", options, "-l", str(self._folder / "log"), "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """A fast shutdown (every session ends, as in an upgrade or a failover) and a start."""
        self.stop()
        self.start()


def _make(folder: Path) -> PrivatePostgres:
    server = PrivatePostgres(folder)
    server.start()
    return server


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private server, stopped and deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="liteflow-pg-"))
    folder.chmod(0o777)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    servers: list[PrivatePostgres] = []

    def probe(_: str) -> None:
        servers.append(_make(folder))

    try:
        require_address("a private PostgreSQL server (initdb + pg_ctl)", str(folder), probe)
        yield servers[0]
    finally:
        if servers:
            with suppress(RuntimeError):
                servers[0].stop()
        shutil.rmtree(folder, ignore_errors=True)
