"""The SQLite store's connections: pooled readers, and the queue of writes that share a commit."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY and SQLITE_LOCKED: another connection holds the lock; worth another try."""
    return isinstance(exc, sqlite3.OperationalError) and "is locked" in str(exc)


class ReaderPool:
    """Idle read connections; a thread borrows one per query, so no connection is used by two at once."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def release(self, connection: sqlite3.Connection) -> None:
        with self._lock:
            self._idle.append(connection)

    def close(self) -> None:
        """Close the idle connections; those in use come back later and are kept."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class SharedConnection:
    """Each ``:memory:`` connection is its own database, so reads wait for the writer's connection."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.Lock) -> None:
        self._connection = connection
        self._lock = lock

    def acquire(self) -> sqlite3.Connection:
        self._lock.acquire()
        return self._connection

    def release(self, connection: sqlite3.Connection) -> None:
        self._lock.release()

    def close(self) -> None:
        """The writer owns the connection and closes it."""


class Write:
    """One caller's write, queued until whichever thread holds the writer runs it."""

    __slots__ = ("done", "error", "result", "transaction", "what", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], Any], what: str, transaction: bool) -> None:
        self.work = work
        self.what = what
        self.transaction = transaction
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
