"""One PostgreSQL database as the providers use it: checked address, pooled connections, retries.

Every provider takes a DSN (a ``postgresql://`` URL or a ``key=value`` string). Construction
connects once, so a wrong address fails where it was given, within `connect_timeout`, naming
the server. Later, a call that finds the server gone (a restart, a dropped connection) is
retried on a new connection until `retry_timeout` runs out; only then does it raise.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict

from liteflow.core.errors import InvalidArgumentError, ProviderError, SerializationError

from ._pool import Connection, ConnectionPool

__all__ = [
    "Connection",
    "Database",
    "Outage",
    "ServerAddress",
    "check_seconds",
    "quoted_schema",
]

_log = logging.getLogger("liteflow.postgres")

T = TypeVar("T")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: What a lost or refused connection raises: worth another try on a new connection.
_TRANSIENT = psycopg.OperationalError
_MAX_RETRY_PAUSE = 1.0
#: Noticed within seconds when the network, not the server, goes away.
_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


def check_seconds(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def quoted_schema(schema: str) -> str:
    """The schema name quoted for SQL; only plain identifiers are accepted, so it needs no escaping."""
    if not isinstance(schema, str) or not _IDENTIFIER.fullmatch(schema):
        raise InvalidArgumentError(
            f"schema must be a name of letters, digits and underscores (at most 63), got {schema!r}"
        )
    return f'"{schema}"'


class ServerAddress:
    """A DSN, checked, and the server it names without credentials (for messages and logs)."""

    def __init__(self, dsn: str) -> None:
        if not isinstance(dsn, str) or not dsn.strip():
            raise InvalidArgumentError(f"dsn must be a non-empty PostgreSQL connection string, got {dsn!r}")
        try:
            parts = conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as exc:
            raise InvalidArgumentError(f"invalid PostgreSQL connection string: {exc}") from None
        self.dsn = dsn
        host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
        port = str(parts.get("port") or 5432)
        database = str(parts.get("dbname") or parts.get("user") or "")
        self.text = f"{host}:{port}/{database}"

    def __str__(self) -> str:
        return self.text

    def connect(self, timeout: float, settings: Sequence[str] = ()) -> Connection:
        """A new autocommit connection, within `timeout` seconds, in UTC, with the session
        `settings` (``SET`` statements) applied; raises ProviderError."""
        try:
            connection = psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=max(1, round(timeout)),
                application_name="liteflow",
                **_KEEPALIVES,
            )
        except psycopg.OperationalError as exc:
            raise ProviderError(
                f"PostgreSQL at {self} did not accept a connection within {timeout:g} s: {_one_line(exc)}"
            ) from exc
        except psycopg.Error as exc:
            raise ProviderError(f"PostgreSQL at {self} refused the connection: {_one_line(exc)}") from exc
        try:
            configure(connection, settings)
        except psycopg.Error as exc:
            connection.close()
            raise ProviderError(f"PostgreSQL at {self} refused a session setting: {_one_line(exc)}") from exc
        return connection


def configure(connection: Connection, settings: Sequence[str] = ()) -> None:
    """Times come back as UTC datetimes, whatever the server's time zone; then `settings`."""
    connection.execute("SET TIME ZONE 'UTC'")
    for setting in settings:
        connection.execute(setting)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class Database:
    """A pool of autocommit connections to one database, opened on first use and after `close`."""

    def __init__(
        self,
        address: ServerAddress,
        *,
        connect_timeout: float,
        retry_timeout: float,
        max_connections: int,
        settings: Sequence[str] = (),
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise InvalidArgumentError(f"max_connections must be an int >= 1, got {max_connections!r}")
        self.address = address
        self._connect_timeout = check_seconds(connect_timeout, "connect_timeout")
        self._retry_timeout = check_seconds(retry_timeout, "retry_timeout")
        self._max_connections = max_connections
        self._settings = tuple(settings)
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._outage = Outage(address, self._retry_timeout)
        # Fail here, where the address was given, rather than in a worker thread later.
        address.connect(self._connect_timeout, self._settings).close()

    def _opened(self) -> ConnectionPool:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ConnectionPool(self._connect, self._max_connections, self._connect_timeout)
            return self._pool

    def _connect(self) -> Connection:
        """A new connection for the pool; what fails is psycopg's error (retried by `run`)."""
        connection = psycopg.connect(
            self.address.dsn,
            autocommit=True,
            connect_timeout=max(1, round(self._connect_timeout)),
            application_name="liteflow",
            **_KEEPALIVES,
        )
        try:
            configure(connection, self._settings)
        except BaseException:
            connection.close()
            raise
        return connection

    def close(self) -> None:
        """Close every connection; the next call opens a new pool."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def run(self, what: str, work: Callable[[Connection], T], *, retry_for: float | None = None) -> T:
        """`work` on a pooled connection, retried on a new one while the server cannot be
        reached, for `retry_for` seconds (default: the retry timeout)."""
        return self._attempt(what, work, retry_for, committed_if_duplicate=False)

    def write(self, what: str, work: Callable[[Connection], object]) -> None:
        """`run` for a write of rows with fresh ids: when its connection died after the write
        was sent, it may have committed, and a unique violation on the retry means it did."""
        try:
            self._attempt(what, work, None, committed_if_duplicate=True)
        except _AlreadyCommittedError:
            _log.warning("%s had committed before the connection to %s was lost", what, self.address)

    def _attempt(
        self,
        what: str,
        work: Callable[[Connection], T],
        retry_for: float | None,
        *,
        committed_if_duplicate: bool,
    ) -> T:
        started = time.monotonic()
        deadline = started + (self._retry_timeout if retry_for is None else retry_for)
        pause = 0.05
        retried = False
        while True:
            try:
                pool = self._opened()
                connection = pool.get()
                try:
                    result = work(connection)
                finally:
                    pool.put(connection)
            except _TRANSIENT as exc:
                now = time.monotonic()
                self._outage.lost(what, exc)
                if now + pause > deadline:
                    raise ProviderError(
                        f"PostgreSQL at {self.address} unreachable for {now - started:.1f} s "
                        f"({what}): {_one_line(exc)}"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, _MAX_RETRY_PAUSE)
                retried = True
                continue
            except errors.UniqueViolation as exc:
                if retried and committed_if_duplicate:
                    raise _AlreadyCommittedError from exc
                raise InvalidArgumentError(
                    f"PostgreSQL at {self.address} refused to {what}: {_one_line(exc)}"
                ) from exc
            except errors.UntranslatableCharacter as exc:
                raise SerializationError(
                    f"cannot store a value ({what}): PostgreSQL refused it: {_one_line(exc)}"
                ) from exc
            except psycopg.DataError as exc:
                raise InvalidArgumentError(
                    f"PostgreSQL at {self.address} refused a value ({what}): {_one_line(exc)}"
                ) from exc
            except psycopg.Error as exc:
                raise ProviderError(f"PostgreSQL at {self.address}: {what} failed: {_one_line(exc)}") from exc
            if retried:
                self._outage.over(what)
            return result


class _AlreadyCommittedError(Exception):
    """A retried write found its own rows: the attempt whose connection died had committed."""


class Outage:
    """Logs once when the server stops answering and once when it answers again, however
    many threads notice."""

    def __init__(self, address: ServerAddress, retry_timeout: float) -> None:
        self._address = address
        self._retry_timeout = retry_timeout
        self._lock = threading.Lock()
        self._since: float | None = None

    def lost(self, what: str, exc: BaseException) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        _log.warning(
            "PostgreSQL at %s unreachable (%s: %s); retrying for up to %.0f s",
            self._address,
            what,
            _one_line(exc),
            self._retry_timeout,
        )

    def over(self, what: str) -> None:
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            _log.warning(
                "PostgreSQL at %s reachable again after %.1f s (%s)",
                self._address,
                time.monotonic() - since,
                what,
            )
