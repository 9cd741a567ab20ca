"""The SQLite store's database: its connections, its migrations, and writes that share commits.

The file is in WAL mode, so readers never wait for the writer. Several threads share one
database: writes go through one writer connection behind a lock, so threads of one process
queue on that lock instead of backing off inside SQLite, and the thread that gets the writer
runs every write queued meanwhile in one transaction (group commit). A read uses the writer
connection when it is idle (its page cache is warm), else a pooled reader connection.
Several processes may share the file: every write transaction starts with ``BEGIN IMMEDIATE``
(no read-to-write lock upgrade that could deadlock), SQLite's busy timeout waits for the other
process, and a ``database is locked`` that still comes back is retried until `timeout` runs out.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import InvalidArgumentError, LiteFlowError, ProviderError
from ._connections import ReaderPool, SharedConnection, Write, is_busy
from ._schema import MEMORY, MIGRATIONS

__all__ = ["Database"]

_log = logging.getLogger("liteflow.sqlite")

_T = TypeVar("_T")


class Database:
    """One SQLite file (or ``":memory:"``): `write` runs work all or nothing, `read` a query."""

    def __init__(self, path: str, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._memory = path == MEMORY
        self.describe = f"SQLite database {path!r}"
        self._started = False
        self._start_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._queue: list[Write] = []
        self._queue_lock = threading.Lock()
        # Opening the writer now makes a bad path fail here, where the user gave it.
        writer = self._retrying(self._connect, "open the database")
        self._writer: sqlite3.Connection | None = writer
        self._readers: ReaderPool | SharedConnection = (
            SharedConnection(writer, self._write_lock) if self._memory else ReaderPool(self._connect)
        )

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            if not self._memory:
                (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
                if str(mode).lower() != "wal":
                    raise ProviderError(
                        f"{self.describe} cannot use WAL journal mode (it stayed in {mode!r}); "
                        "put it on a local file system"
                    )
            connection.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _retrying(self, action: Callable[[], _T], what: str) -> _T:
        """Run `action`, retrying while another connection holds the lock, until `timeout` runs out."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return action()
            except sqlite3.Error as exc:
                waited = time.monotonic() - started
                if not is_busy(exc) or waited >= self._timeout:
                    raise self._failure(exc, what) from exc
            attempt += 1
            _log.debug("%s is locked (%s), retry %d", self.describe, what, attempt)
            time.sleep(min(0.001 * 2**attempt, 0.05, max(self._timeout - waited, 0.0)))

    def _failure(self, exc: BaseException, what: str) -> LiteFlowError:
        if isinstance(exc, (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError)):
            return InvalidArgumentError(f"{self.describe} refused to {what}: {exc}")
        return ProviderError(f"{self.describe} failed to {what}: {exc}")

    def _open_writer(self) -> sqlite3.Connection:
        """The writer connection, opened again after `close`; call with the write lock held."""
        if self._writer is None:
            self._writer = self._connect()
        return self._writer

    def _execute(self, work: Callable[[sqlite3.Connection], _T], transaction: bool) -> _T:
        """Run `work` on the writer, in a transaction unless it is one statement (atomic by
        itself, and cheaper without the BEGIN and COMMIT); the caller holds the write lock."""
        connection = self._open_writer()
        if not transaction:
            return work(connection)
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            connection.rollback()
            raise
        return result

    def write(self, work: Callable[[sqlite3.Connection], Any], what: str, transaction: bool = True) -> Any:
        """Run `work` all or nothing and return its result.

        Writes are queued, and whichever thread gets the writer first runs every queued one
        (group commit): with several threads writing, one commit serves them all.
        """
        if not self._started:
            self.start()
        if not self._queue and self._write_lock.acquire(blocking=False):
            # Nobody else is writing: no batch to join, so skip the queue.
            try:
                return self._retrying(lambda: self._execute(work, transaction), what)
            finally:
                self._write_lock.release()
        request = Write(work, what, transaction)
        with self._queue_lock:
            self._queue.append(request)
        with self._write_lock:
            if not request.done:
                self._run_queued()
        if request.error is not None:
            raise request.error
        return request.result

    def _run_queued(self) -> None:
        """Run every queued write; the caller holds the write lock."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        try:
            if len(batch) == 1 or not self._run_together(batch):
                for request in batch:
                    self._run_alone(request)
        finally:
            for request in batch:
                if not request.done:  # the thread was interrupted (KeyboardInterrupt, ...)
                    request.error = ProviderError(f"{self.describe}: the write was interrupted")
                    request.done = True

    def _run_together(self, batch: list[Write]) -> bool:
        """One transaction for the whole batch; False, with nothing written, when one write
        in it fails on its own, so that each can then succeed or fail alone."""

        def run_all(connection: sqlite3.Connection) -> list[Any]:
            return [request.work(connection) for request in batch]

        try:
            results = self._retrying(lambda: self._execute(run_all, transaction=True), "write")
        except LiteFlowError as exc:
            cause = exc.__cause__
            if cause is None or not is_busy(cause):
                return False
            for request in batch:  # the database stayed locked: running each alone would not help
                request.error = self._failure(cause, request.what)
                request.done = True
            return True
        for request, result in zip(batch, results, strict=True):
            request.result = result
            request.done = True
        return True

    def _run_alone(self, request: Write) -> None:
        try:
            request.result = self._retrying(
                lambda: self._execute(request.work, request.transaction), request.what
            )
        except LiteFlowError as exc:
            request.error = exc
        request.done = True

    def read(self, sql: str, parameters: Sequence[Any], what: str) -> list[Any]:
        if not self._started:
            self.start()
        return self._retrying(lambda: self._query(sql, parameters), what)

    def _query(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        # An idle writer is the best reader: every other connection drops its page cache
        # after each commit, while the writer's cache stays warm.
        if self._write_lock.acquire(blocking=False):
            try:
                return self._open_writer().execute(sql, parameters).fetchall()
            finally:
                self._write_lock.release()
        connection = self._readers.acquire()
        try:
            return connection.execute(sql, parameters).fetchall()
        finally:
            self._readers.release(connection)

    def start(self) -> None:
        """Create the tables and indexes once per file; safe to call again, from any process."""
        with self._start_lock:
            if self._started:
                return
            with self._write_lock:
                self._retrying(
                    lambda: self._execute(self._migrate, transaction=True), "create or migrate the schema"
                )
            self._started = True
        _log.info("using %s", self.describe)

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Bring the file to the latest schema, one numbered migration after another, in the
        caller's transaction (``BEGIN IMMEDIATE``: processes starting at once take turns)."""
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        latest = len(MIGRATIONS)
        if version > latest:
            raise ProviderError(
                f"{self.describe} has schema version {version}, newer than this LiteFlow "
                f"understands ({latest}); upgrade LiteFlow"
            )
        for number in range(version + 1, latest + 1):
            for statement in MIGRATIONS[number - 1]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number}")
            if version:
                _log.info("%s migrated to schema version %d", self.describe, number)

    def close(self) -> None:
        """Close the connections (queries running in other threads finish first); a later
        call opens them again. An in-memory database lives as long as its connection, so
        closing one would lose it: it stays open."""
        if self._memory:
            return
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self._readers.close()
