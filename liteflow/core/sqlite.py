"""Durable persistence in one SQLite file, using only the standard library.

The file is in WAL mode, so readers never wait for the writer. Several threads share one
provider: writes go through one writer connection behind a lock, so threads of one process
queue on that lock instead of backing off inside SQLite, and the thread that gets the writer
runs every write queued meanwhile in one transaction (group commit). A read uses the writer
connection when it is idle (its page cache is warm), else a pooled reader connection.
Several processes may share the file: every write transaction starts with ``BEGIN IMMEDIATE``
(no read-to-write lock upgrade that could deadlock), SQLite's busy timeout waits for the other
process, and a ``database is locked`` that still comes back is retried until `timeout` runs out.

Times are stored as integer microseconds since the Unix epoch (UTC), so SQL comparisons and
ordering are exact. An instance is one row; its execution pointers are one JSON array column,
so a persist is a single row write. Payloads (data, persistence data, event data, context
items, outcomes) go through the provider's :class:`~liteflow.core.serialization.Serializer`.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from .changes import WorkflowChanges
from .clock import to_utc, utcnow
from .errors import InvalidArgumentError, LiteFlowError, ProviderError, SerializationError
from .providers import PersistenceProvider
from .records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowInstance,
    event_key_text,
    new_id,
)
from .serialization import DEFAULT_SERIALIZER, Serializer

__all__ = ["SqlitePersistenceProvider"]

_log = logging.getLogger("liteflow.sqlite")

_T = TypeVar("_T")

_MEMORY = ":memory:"
_SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS workflows (
        id TEXT PRIMARY KEY NOT NULL,
        workflow_definition_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        description TEXT,
        reference TEXT,
        parent_workflow_id TEXT,
        status INTEGER NOT NULL,
        next_execution INTEGER,
        create_time INTEGER,
        complete_time INTEGER,
        data TEXT NOT NULL,
        execution_pointers TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS workflows_runnable ON workflows (status, next_execution)",
    "CREATE INDEX IF NOT EXISTS workflows_created ON workflows (create_time)",
    "CREATE INDEX IF NOT EXISTS workflows_definition ON workflows (workflow_definition_id)",
    """CREATE TABLE IF NOT EXISTS subscriptions (
        id TEXT PRIMARY KEY NOT NULL,
        workflow_id TEXT NOT NULL,
        step_id INTEGER NOT NULL,
        execution_pointer_id TEXT,
        event_name TEXT NOT NULL,
        event_key TEXT,
        subscribe_as_of INTEGER)""",
    "CREATE INDEX IF NOT EXISTS subscriptions_match "
    "ON subscriptions (event_name, event_key, subscribe_as_of)",
    """CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY NOT NULL,
        event_name TEXT NOT NULL,
        event_key TEXT,
        event_data TEXT NOT NULL,
        event_time INTEGER,
        is_processed INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_match ON events (event_name, event_key, event_time)",
    "CREATE INDEX IF NOT EXISTS events_unprocessed ON events (is_processed, event_time)",
    """CREATE TABLE IF NOT EXISTS execution_errors (
        id INTEGER PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        execution_pointer_id TEXT,
        error_time INTEGER,
        message TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS execution_errors_workflow ON execution_errors (workflow_id)",
    f"PRAGMA user_version = {_SCHEMA_VERSION}",
)

# What a workflow is, fixed when it is created, then what a persist changes.
_WORKFLOW_IDENTITY = ("id", "workflow_definition_id", "version", "create_time")
_WORKFLOW_STATE = (
    "description",
    "reference",
    "parent_workflow_id",
    "status",
    "next_execution",
    "complete_time",
    "data",
    "execution_pointers",
)
_WORKFLOW_COLUMNS = ", ".join(_WORKFLOW_IDENTITY + _WORKFLOW_STATE)
_SELECT_WORKFLOWS = f"SELECT {_WORKFLOW_COLUMNS} FROM workflows"
_INSERT_WORKFLOW = (
    f"INSERT INTO workflows ({_WORKFLOW_COLUMNS}) "
    f"VALUES ({', '.join('?' * (len(_WORKFLOW_IDENTITY) + len(_WORKFLOW_STATE)))})"
)
# SQLite rewrites every index on a column named in SET, changed or not, so the usual persist
# sets only the state columns, and only when the identity columns still match.
_UPDATE_WORKFLOW_STATE = (
    f"UPDATE workflows SET {', '.join(f'{name} = ?' for name in _WORKFLOW_STATE)} "
    "WHERE id = ? AND workflow_definition_id = ? AND version = ? AND create_time IS ?"
)
# Otherwise replace the whole row; an upsert keeps the rowid (insertion order breaks
# create_time ties) and stores an instance never created, as the in-memory provider does.
_UPSERT_WORKFLOW = f"{_INSERT_WORKFLOW} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{name} = excluded.{name}" for name in (*_WORKFLOW_IDENTITY[1:], *_WORKFLOW_STATE)
)
_PURGE_CONDITION = "status = ? AND COALESCE(complete_time, create_time) < ?"
_PURGE_DEPENDENTS = (
    f"DELETE FROM subscriptions WHERE workflow_id IN (SELECT id FROM workflows WHERE {_PURGE_CONDITION})",
    f"DELETE FROM execution_errors WHERE workflow_id IN (SELECT id FROM workflows WHERE {_PURGE_CONDITION})",
)
_PURGE_WORKFLOWS = f"DELETE FROM workflows WHERE {_PURGE_CONDITION}"
_RUNNABLE_WORKFLOWS = (
    "SELECT id FROM workflows WHERE status = ? AND next_execution <= ? ORDER BY next_execution, rowid"
)

_SUBSCRIPTION_COLUMNS = (
    "id, workflow_id, step_id, execution_pointer_id, event_name, event_key, subscribe_as_of"
)
_INSERT_SUBSCRIPTION = f"INSERT INTO subscriptions ({_SUBSCRIPTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_MATCHING_SUBSCRIPTIONS = (
    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE event_name = ? AND event_key IS ? "
    "AND (subscribe_as_of IS NULL OR subscribe_as_of <= ?) ORDER BY subscribe_as_of, rowid"
)
_DELETE_SUBSCRIPTION = "DELETE FROM subscriptions WHERE id = ?"

_EVENT_COLUMNS = "id, event_name, event_key, event_data, event_time, is_processed"
_INSERT_EVENT = f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_SELECT_EVENT = f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?"
_RUNNABLE_EVENTS = (
    "SELECT id FROM events WHERE is_processed = 0 AND (event_time IS NULL OR event_time <= ?) "
    "ORDER BY event_time, rowid"
)
_EVENTS_SINCE = (
    "SELECT id FROM events WHERE event_name = ? AND event_key IS ? "
    "AND (event_time IS NULL OR event_time >= ?) ORDER BY event_time, rowid"
)
_MARK_EVENT = "UPDATE events SET is_processed = ? WHERE id = ?"

_INSERT_ERROR = (
    "INSERT INTO execution_errors (workflow_id, execution_pointer_id, error_time, message) "
    "VALUES (?, ?, ?, ?)"
)
_SELECT_ERRORS = (
    "SELECT workflow_id, execution_pointer_id, error_time, message FROM execution_errors "
    "WHERE workflow_id = ? ORDER BY id"
)

# A pointer is stored as the attributes that differ from a new ExecutionPointer's: a handful
# of keys instead of nineteen, so far less JSON to write and parse. Times are stored as
# microseconds, payloads through the serializer, everything else as it is.
_POINTER_TIMES = ("start_time", "end_time", "sleep_until")
_POINTER_PAYLOADS = ("persistence_data", "event_data", "context_item", "outcome")
_POINTER_PLAIN = tuple(
    (name, default)
    for name, default in vars(ExecutionPointer()).items()
    if name not in _POINTER_TIMES and name not in _POINTER_PAYLOADS
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
# Documents come from the serializer, which refuses cycles, so the encoder's own check is skipped.
_encode_json = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
).encode


def _micros(value: object, what: str, pointer_index: int | None = None) -> int | None:
    """Integer microseconds since the epoch compare and sort exactly in SQL, unlike text or floats."""
    if value is None:
        return None
    # The engine's own times are UTC datetimes already; only the others need checks and conversion.
    if type(value) is not datetime or value.tzinfo is not timezone.utc:
        if not isinstance(value, datetime):
            if pointer_index is not None:
                what = f"execution_pointers[{pointer_index}].{what}"
            raise InvalidArgumentError(f"{what} must be a datetime, got {type(value).__name__}: {value!r}")
        value = to_utc(value)
    return (value - _EPOCH) // _MICROSECOND


def _time(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + _MICROSECOND * value


def _encode(document: Any, path: str) -> str:
    """One shared encoder: ``json.dumps`` with options would build a new one on every call."""
    try:
        return _encode_json(document)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"cannot store value at {path}: {exc}") from exc


def _decode(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SerializationError(f"cannot load {where}: stored text is not valid JSON ({exc})") from exc


def _is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY and SQLITE_LOCKED: another connection holds the lock; worth another try."""
    return isinstance(exc, sqlite3.OperationalError) and "is locked" in str(exc)


class _ReaderPool:
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


class _SharedConnection:
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


class _Write:
    """One caller's write, queued until whichever thread holds the writer runs it."""

    __slots__ = ("done", "error", "result", "transaction", "what", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], Any], what: str, transaction: bool) -> None:
        self.work = work
        self.what = what
        self.transaction = transaction
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class SqlitePersistenceProvider(PersistenceProvider):
    """Stores workflows, subscriptions, events and errors in one SQLite database file.

    `path` is the database file (created when missing) or ``":memory:"`` for a private
    in-memory store. `timeout` (seconds) bounds every wait for another connection's lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "liteflow.db",
        serializer: Serializer | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        self._path = os.fspath(path)
        if not self._path:
            raise InvalidArgumentError("path must not be empty; use ':memory:' for an in-memory store")
        if serializer is not None and not isinstance(serializer, Serializer):
            raise InvalidArgumentError(f"serializer must be a Serializer, got {type(serializer).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidArgumentError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self._serializer = serializer or DEFAULT_SERIALIZER
        self._timeout = float(timeout)
        self._memory = self._path == _MEMORY
        self._describe = f"SQLite database {self._path!r}"
        self._started = False
        self._start_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._queue: list[_Write] = []
        self._queue_lock = threading.Lock()
        # Opening the writer now makes a bad path fail here, where the user gave it.
        writer = self._retrying(self._connect, "open the database")
        self._writer: sqlite3.Connection | None = writer
        self._readers: _ReaderPool | _SharedConnection = (
            _SharedConnection(writer, self._write_lock) if self._memory else _ReaderPool(self._connect)
        )

    @property
    def path(self) -> str:
        """The database file, or ``":memory:"``."""
        return self._path

    def __repr__(self) -> str:
        return f"SqlitePersistenceProvider({self._path!r})"

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            if not self._memory:
                (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
                if str(mode).lower() != "wal":
                    raise ProviderError(
                        f"{self._describe} cannot use WAL journal mode (it stayed in {mode!r}); "
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
                if not _is_busy(exc) or waited >= self._timeout:
                    raise self._failure(exc, what) from exc
            attempt += 1
            _log.debug("%s is locked (%s), retry %d", self._describe, what, attempt)
            time.sleep(min(0.001 * 2**attempt, 0.05, max(self._timeout - waited, 0.0)))

    def _failure(self, exc: BaseException, what: str) -> LiteFlowError:
        if isinstance(exc, (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError)):
            return InvalidArgumentError(f"{self._describe} refused to {what}: {exc}")
        return ProviderError(f"{self._describe} failed to {what}: {exc}")

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

    def _write(self, work: Callable[[sqlite3.Connection], Any], what: str, transaction: bool = True) -> Any:
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
        request = _Write(work, what, transaction)
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
                    request.error = ProviderError(f"{self._describe}: the write was interrupted")
                    request.done = True

    def _run_together(self, batch: list[_Write]) -> bool:
        """One transaction for the whole batch; False, with nothing written, when one write
        in it fails on its own, so that each can then succeed or fail alone."""

        def run_all(connection: sqlite3.Connection) -> list[Any]:
            return [request.work(connection) for request in batch]

        try:
            results = self._retrying(lambda: self._execute(run_all, transaction=True), "write")
        except LiteFlowError as exc:
            cause = exc.__cause__
            if cause is None or not _is_busy(cause):
                return False
            for request in batch:  # the database stayed locked: running each alone would not help
                request.error = self._failure(cause, request.what)
                request.done = True
            return True
        for request, result in zip(batch, results, strict=True):
            request.result = result
            request.done = True
        return True

    def _run_alone(self, request: _Write) -> None:
        try:
            request.result = self._retrying(
                lambda: self._execute(request.work, request.transaction), request.what
            )
        except LiteFlowError as exc:
            request.error = exc
        request.done = True

    def _read(self, sql: str, parameters: Sequence[Any], what: str) -> list[Any]:
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

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Create the tables and indexes once per file; safe to call again, from any process."""
        with self._start_lock:
            if self._started:
                return
            with self._write_lock:
                self._retrying(
                    lambda: self._execute(self._create_schema, transaction=True), "create the schema"
                )
            self._started = True
        _log.info("using %s", self._describe)

    def _create_schema(self, connection: sqlite3.Connection) -> None:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version > _SCHEMA_VERSION:
            raise ProviderError(
                f"{self._describe} has schema version {version}, newer than this LiteFlow "
                f"understands ({_SCHEMA_VERSION}); upgrade LiteFlow"
            )
        if version < _SCHEMA_VERSION:
            for statement in _SCHEMA:
                connection.execute(statement)

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

    # ------------------------------------------------------------------ serialization

    def _dump_pointers(self, pointers: Sequence[ExecutionPointer]) -> str:
        to_document = self._serializer.to_document
        documents = []
        for index, pointer in enumerate(pointers):
            state = vars(pointer)
            document = {name: state[name] for name, default in _POINTER_PLAIN if state[name] != default}
            for name in _POINTER_TIMES:
                value = state[name]
                if value is not None:
                    document[name] = _micros(value, name, index)
            for name in _POINTER_PAYLOADS:
                value = state[name]
                if value is not None:
                    document[name] = to_document(value, f"execution_pointers[{index}].{name}")
            documents.append(document)
        return _encode(documents, "execution_pointers")

    def _load_pointers(self, text: str, workflow_id: str) -> list[ExecutionPointer]:
        where = f"execution_pointers of workflow {workflow_id!r}"
        documents = _decode(text, where)
        if type(documents) is not list or any(type(document) is not dict for document in documents):
            raise SerializationError(f"cannot load {where}: stored value is not a list of objects")
        pointers = []
        for index, document in enumerate(documents):
            pointer = ExecutionPointer()
            state = vars(pointer)
            state.update(document)
            for name in _POINTER_TIMES:
                value = document.get(name)
                if value is not None:
                    state[name] = _time(value)
            for name in _POINTER_PAYLOADS:
                value = document.get(name)
                if value is not None:
                    state[name] = self._from_document(
                        value, f"execution_pointers[{index}].{name} of workflow {workflow_id!r}"
                    )
            pointers.append(pointer)
        return pointers

    def _from_document(self, document: Any, where: str) -> Any:
        try:
            return self._serializer.from_document(document)
        except SerializationError as exc:
            raise SerializationError(f"cannot load {where}: {exc}") from exc

    def _dumps(self, value: Any, path: str) -> str:
        return _encode(self._serializer.to_document(value, path), path)

    def _loads(self, text: str, where: str) -> Any:
        return self._from_document(_decode(text, where), where)

    def _workflow_row(self, workflow: WorkflowInstance, workflow_id: str) -> tuple[Any, ...]:
        return (
            workflow_id,
            workflow.workflow_definition_id,
            workflow.version,
            _micros(workflow.create_time, "create_time"),
            workflow.description,
            workflow.reference,
            workflow.parent_workflow_id,
            workflow.status,
            _micros(workflow.next_execution, "next_execution"),
            _micros(workflow.complete_time, "complete_time"),
            self._dumps(workflow.data, "data"),
            self._dump_pointers(workflow.execution_pointers),
        )

    def _workflow_from_row(self, row: Sequence[Any]) -> WorkflowInstance:
        workflow = WorkflowInstance()
        (
            workflow.id,
            workflow.workflow_definition_id,
            workflow.version,
            create_time,
            workflow.description,
            workflow.reference,
            workflow.parent_workflow_id,
            workflow.status,
            next_execution,
            complete_time,
            data,
            pointers,
        ) = row
        workflow.next_execution = _time(next_execution)
        workflow.create_time = _time(create_time)
        workflow.complete_time = _time(complete_time)
        workflow.data = self._loads(data, f"data of workflow {workflow.id!r}")
        workflow.execution_pointers = self._load_pointers(pointers, workflow.id)
        return workflow

    @staticmethod
    def _subscription_row(subscription: EventSubscription, subscription_id: str) -> tuple[Any, ...]:
        return (
            subscription_id,
            subscription.workflow_id,
            subscription.step_id,
            subscription.execution_pointer_id,
            subscription.event_name,
            event_key_text(subscription.event_key),
            _micros(subscription.subscribe_as_of, "subscribe_as_of"),
        )

    @staticmethod
    def _subscription_from_row(row: Sequence[Any]) -> EventSubscription:
        subscription = EventSubscription()
        (
            subscription.id,
            subscription.workflow_id,
            subscription.step_id,
            subscription.execution_pointer_id,
            subscription.event_name,
            subscription.event_key,
            as_of,
        ) = row
        subscription.subscribe_as_of = _time(as_of)
        return subscription

    # ------------------------------------------------------------------ workflows

    def create_workflow(self, workflow: WorkflowInstance) -> str:
        workflow_id = workflow.id or new_id()
        row = self._workflow_row(workflow, workflow_id)
        self._write(lambda connection: connection.execute(_INSERT_WORKFLOW, row), "create_workflow", False)
        workflow.id = workflow_id
        return workflow_id

    def persist_workflow(
        self, workflow: WorkflowInstance, subscriptions: Sequence[EventSubscription] = ()
    ) -> None:
        self.persist_changes(WorkflowChanges(workflow, subscriptions=list(subscriptions)))

    def persist_changes(self, changes: WorkflowChanges) -> None:
        """One transaction (or one statement, when the pass changed only the instance)."""
        workflow = changes.workflow
        if not workflow.id:
            raise InvalidArgumentError(
                "persist_workflow needs an instance with an id; create_workflow it first"
            )
        # Everything is serialized before the transaction opens, so a bad value changes nothing.
        row = self._workflow_row(workflow, workflow.id)
        subscription_ids = [subscription.id or new_id() for subscription in changes.subscriptions]
        subscription_rows = [
            self._subscription_row(subscription, subscription_id)
            for subscription, subscription_id in zip(changes.subscriptions, subscription_ids, strict=True)
        ]
        ended_rows = [(subscription_id,) for subscription_id in changes.ended_subscriptions]
        error_rows = self._error_rows(changes.errors)
        event_ids = [event.id or new_id() for event in changes.events]
        event_rows = [
            self._event_row(event, event_id)
            for event, event_id in zip(changes.events, event_ids, strict=True)
        ]
        mark_rows = [(int(processed), event_id) for event_id, processed in changes.event_marks.items()]

        identity = len(_WORKFLOW_IDENTITY)
        state_then_identity = row[identity:] + row[:identity]

        def work(connection: sqlite3.Connection) -> None:
            # Either statement alone is atomic, and the first changes nothing when it misses.
            if connection.execute(_UPDATE_WORKFLOW_STATE, state_then_identity).rowcount == 0:
                connection.execute(_UPSERT_WORKFLOW, row)
            for statement, rows in (
                (_INSERT_SUBSCRIPTION, subscription_rows),
                (_DELETE_SUBSCRIPTION, ended_rows),
                (_INSERT_ERROR, error_rows),
                (_INSERT_EVENT, event_rows),
                (_MARK_EVENT, mark_rows),
            ):
                if rows:
                    connection.executemany(statement, rows)

        self._write(work, "persist_workflow", transaction=changes.has_side_effects)
        for subscription, subscription_id in zip(changes.subscriptions, subscription_ids, strict=True):
            subscription.id = subscription_id
        for event, event_id in zip(changes.events, event_ids, strict=True):
            event.id = event_id

    def get_workflow_instance(self, workflow_id: str) -> WorkflowInstance | None:
        rows = self._read(f"{_SELECT_WORKFLOWS} WHERE id = ?", (workflow_id,), "get_workflow_instance")
        return self._workflow_from_row(rows[0]) if rows else None

    def get_workflow_instances(
        self,
        status: int | None = None,
        definition_id: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        if skip < 0 or take < 0:
            raise InvalidArgumentError(f"skip and take must not be negative, got skip={skip}, take={take}")
        conditions: list[str] = []
        parameters: list[Any] = []
        for condition, value in (
            ("status = ?", status),
            ("workflow_definition_id = ?", definition_id),
            ("create_time >= ?", _micros(created_from, "created_from")),
            ("create_time <= ?", _micros(created_to, "created_to")),
        ):
            if value is not None:
                conditions.append(condition)
                parameters.append(value)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._read(
            f"{_SELECT_WORKFLOWS}{where} ORDER BY create_time, rowid LIMIT ? OFFSET ?",
            (*parameters, take, skip),
            "get_workflow_instances",
        )
        return [self._workflow_from_row(row) for row in rows]

    def purge_workflows(self, status: int, older_than: datetime) -> int:
        parameters = (status, _micros(older_than, "older_than"))

        def work(connection: sqlite3.Connection) -> int:
            for statement in _PURGE_DEPENDENTS:
                connection.execute(statement, parameters)
            return connection.execute(_PURGE_WORKFLOWS, parameters).rowcount

        return int(self._write(work, "purge_workflows"))

    def get_runnable_instances(self, as_at: datetime | None = None) -> list[str]:
        limit = _micros(utcnow() if as_at is None else as_at, "as_at")
        rows = self._read(_RUNNABLE_WORKFLOWS, (WorkflowInstance.RUNNABLE, limit), "get_runnable_instances")
        return [workflow_id for (workflow_id,) in rows]

    # ------------------------------------------------------------------ subscriptions

    def create_subscription(self, subscription: EventSubscription) -> str:
        subscription_id = subscription.id or new_id()
        row = self._subscription_row(subscription, subscription_id)
        self._write(
            lambda connection: connection.execute(_INSERT_SUBSCRIPTION, row), "create_subscription", False
        )
        subscription.id = subscription_id
        return subscription_id

    def get_subscriptions(
        self, event_name: str, event_key: str | None, as_of: datetime
    ) -> list[EventSubscription]:
        rows = self._read(
            _MATCHING_SUBSCRIPTIONS,
            (event_name, event_key_text(event_key), _micros(as_of, "as_of")),
            "get_subscriptions",
        )
        return [self._subscription_from_row(row) for row in rows]

    def terminate_subscription(self, subscription_id: str) -> None:
        self._write(
            lambda connection: connection.execute(_DELETE_SUBSCRIPTION, (subscription_id,)),
            "terminate_subscription",
            False,
        )

    # ------------------------------------------------------------------ events

    def _event_row(self, event: Event, event_id: str) -> tuple[Any, ...]:
        return (
            event_id,
            event.event_name,
            event_key_text(event.event_key),
            self._dumps(event.event_data, "event_data"),
            _micros(event.event_time, "event_time"),
            int(bool(event.is_processed)),
        )

    def create_event(self, event: Event) -> str:
        event_id = event.id or new_id()
        row = self._event_row(event, event_id)
        self._write(lambda connection: connection.execute(_INSERT_EVENT, row), "create_event", False)
        event.id = event_id
        return event_id

    def get_event(self, event_id: str) -> Event | None:
        rows = self._read(_SELECT_EVENT, (event_id,), "get_event")
        if not rows:
            return None
        event = Event()
        event.id, event.event_name, event.event_key, data, event_time, processed = rows[0]
        event.event_data = self._loads(data, f"event_data of event {event_id!r}")
        event.event_time = _time(event_time)
        event.is_processed = bool(processed)
        return event

    def get_runnable_events(self, as_at: datetime | None = None) -> list[str]:
        limit = _micros(utcnow() if as_at is None else as_at, "as_at")
        return [event_id for (event_id,) in self._read(_RUNNABLE_EVENTS, (limit,), "get_runnable_events")]

    def get_events(self, event_name: str, event_key: str | None, as_of: datetime) -> list[str]:
        rows = self._read(
            _EVENTS_SINCE,
            (event_name, event_key_text(event_key), _micros(as_of, "as_of")),
            "get_events",
        )
        return [event_id for (event_id,) in rows]

    def mark_event_processed(self, event_id: str) -> None:
        self._write(
            lambda connection: connection.execute(_MARK_EVENT, (1, event_id)), "mark_event_processed", False
        )

    def mark_event_unprocessed(self, event_id: str) -> None:
        self._write(
            lambda connection: connection.execute(_MARK_EVENT, (0, event_id)), "mark_event_unprocessed", False
        )

    # ------------------------------------------------------------------ errors

    @staticmethod
    def _error_rows(errors: Sequence[ExecutionError]) -> list[tuple[Any, ...]]:
        return [
            (
                error.workflow_id,
                error.execution_pointer_id,
                _micros(error.error_time, "error_time"),
                error.message,
            )
            for error in errors
        ]

    def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        rows = self._error_rows(errors)
        if rows:
            self._write(lambda connection: connection.executemany(_INSERT_ERROR, rows), "persist_errors")

    def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        found = []
        for row in self._read(_SELECT_ERRORS, (workflow_id,), "get_errors"):
            error = ExecutionError()
            error.workflow_id, error.execution_pointer_id, error_time, error.message = row
            error.error_time = _time(error_time)
            found.append(error)
        return found
