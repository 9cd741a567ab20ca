"""`PostgresLockProvider`: workflow locks as PostgreSQL advisory locks of one session."""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import psycopg

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.providers import LockProvider

from ._database import Connection, ServerAddress, check_seconds
from ._direct import LOADERS, Columns, Prepared

__all__ = ["PostgresLockProvider"]

_log = logging.getLogger("liteflow.postgres")

#: After a failed connection attempt, acquisitions fail at once for this long (no hammering).
_RECONNECT_PAUSE = 0.5
#: Taken and released once per workflow run: prepared (see `_direct`).
_TRY_LOCK = Prepared("SELECT pg_try_advisory_lock(%s)")
_UNLOCK = Prepared("SELECT pg_advisory_unlock(%s)")
_ALIVE = Prepared("SELECT true")
_ANSWER: Columns = (LOADERS["boolean"],)


class PostgresLockProvider(LockProvider):
    """Mutual exclusion across nodes with session-level advisory locks.

    Each provider holds one connection; a lock is ``pg_try_advisory_lock`` on a 64-bit digest
    of ``key_prefix + resource``. The server ends every lock of a session when it ends, so the
    locks of a node that dies (or loses its connection) are free at once, with no lease to
    wait out. A lost session is noticed by the next call on it, and by a check every
    `heartbeat` seconds while locks are held: from then on `holds_lock` is False for them, as
    the engine expects of a lock that was lost. Threads of one process are kept apart here
    (the server would let one session take its own lock twice).

    Needs a direct connection or session pooling: a transaction-pooling proxy would hand the
    session, and its locks, to someone else.
    """

    def __init__(
        self,
        dsn: str,
        *,
        key_prefix: str = "liteflow:",
        heartbeat: float = 1.0,
        connect_timeout: float = 5.0,
    ) -> None:
        if not isinstance(key_prefix, str):
            raise InvalidArgumentError(f"key_prefix must be a str, got {key_prefix!r}")
        self._address = ServerAddress(dsn)
        self._heartbeat = check_seconds(heartbeat, "heartbeat")
        self._connect_timeout = check_seconds(connect_timeout, "connect_timeout")
        self._key_prefix = key_prefix
        self.address = str(self._address)
        #: Held while the session's connection is in use (one statement at a time).
        self._io = threading.Lock()
        self._connection: Connection | None = None
        self._failed_at = -_RECONNECT_PAUSE
        #: Guards `_held`: which resources this provider holds, by the session that took them.
        self._state = threading.Lock()
        self._session = 0
        self._held: dict[str, int] = {}
        self._heartbeat_stop: threading.Event | None = None
        # Fail here, where the address was given, rather than in a worker thread later.
        self._address.connect(self._connect_timeout).close()

    def __repr__(self) -> str:
        return f"PostgresLockProvider({self.address!r}, key_prefix={self._key_prefix!r})"

    def start(self) -> None:
        with self._state:
            if self._heartbeat_stop is None:
                self._heartbeat_stop = threading.Event()
                threading.Thread(
                    target=self._beat,
                    args=(self._heartbeat_stop,),
                    name="liteflow-postgres-locks",
                    daemon=True,
                ).start()

    def _key(self, resource: str) -> int:
        digest = hashlib.blake2b((self._key_prefix + resource).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def acquire_lock(self, resource: str) -> bool:
        """False also while the server cannot be reached: the engine tries again later."""
        with self._state:
            if resource in self._held:
                return False
            self._held[resource] = -1  # claimed by this thread until the server answers
        granted = False
        try:
            session, answer = self._ask(_TRY_LOCK, self._key(resource))
            granted = answer is True
        finally:
            with self._state:
                if granted and session == self._session:
                    self._held[resource] = session
                else:
                    granted = False
                    del self._held[resource]
        return granted

    def release_lock(self, resource: str) -> None:
        with self._state:
            session = self._held.pop(resource, None)
            if session is None or session != self._session:
                return  # never held, or gone with its session
        self._ask(_UNLOCK, self._key(resource))

    def holds_lock(self, resource: str) -> bool:
        with self._state:
            return self._held.get(resource, -1) == self._session

    def shutdown(self) -> None:
        """Stop the heartbeat and end the session, which frees every lock it held."""
        with self._state:
            stop, self._heartbeat_stop = self._heartbeat_stop, None
            self._held.clear()
            self._session += 1
        if stop is not None:
            stop.set()
        with self._io:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _ask(self, statement: Prepared, key: int | None) -> tuple[int, object]:
        """Run one statement on the session: (the session it ran on, its answer), or
        (session, None) when the server could not be reached (the session is then lost)."""
        with self._io:
            with self._state:
                session = self._session
            connection = self._connected()
            if connection is None:
                return session, None
            try:
                rows = statement.fetch(connection, () if key is None else (key,), _ANSWER)
            except psycopg.Error as exc:
                self._lose_session(session, exc)
                return session, None
        return session, rows[0][0] if rows else None

    def _connected(self) -> Connection | None:
        """The session's connection (opened when missing); None while the server is down.
        Call with `_io` held."""
        if self._connection is not None and not self._connection.closed:
            return self._connection
        if time.monotonic() - self._failed_at < _RECONNECT_PAUSE:
            return None
        try:
            self._connection = self._address.connect(self._connect_timeout)
        except ProviderError as exc:
            self._failed_at = time.monotonic()
            _log.warning("lock provider cannot reach PostgreSQL: %s", exc)
            return None
        return self._connection

    def _lose_session(self, session: int, exc: BaseException) -> None:
        """The session is gone, and every lock it held with it; call with `_io` held."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        with self._state:
            if session != self._session:
                return
            self._session += 1
            lost = sorted(resource for resource, taken in self._held.items() if taken == session)
            for resource in lost:
                del self._held[resource]
        if lost:
            _log.warning(
                "lost the PostgreSQL session at %s (%s), and with it the locks on %s",
                self.address,
                " ".join(str(exc).split()),
                ", ".join(lost),
            )

    def _beat(self, stop: threading.Event) -> None:
        """While locks are held, make sure their session still exists."""
        while not stop.wait(self._heartbeat):
            with self._state:
                holding = any(session == self._session for session in self._held.values())
            if holding:
                self._ask(_ALIVE, None)
