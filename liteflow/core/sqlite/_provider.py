"""`SqlitePersistenceProvider`: instances, subscriptions, events and errors as rows of one file.

Times are stored as integer microseconds since the Unix epoch (UTC), so SQL comparisons and
ordering are exact. An instance is one row; its execution pointers are one JSON array column,
so a pass is a single row write plus the rows of what it produced, in one transaction.
Payloads (data, persistence data, event data, context items, outcomes) go through the
provider's `liteflow.core.serialization.Serializer`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from ..changes import WorkflowChanges
from ..clock import utcnow
from ..errors import InvalidArgumentError
from ..instance_filters import sql_instance_filters
from ..providers import PersistenceProvider
from ..queries import WorkflowQuery, WorkflowSummary, check_page
from ..records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowInstance,
    event_key_text,
    new_id,
)
from ..serialization import DEFAULT_SERIALIZER, Serializer
from ..shared_state import SharedState
from ._database import Database
from ._rows import SqliteRows
from ._schema import (
    ANY_UNCLAIMED_EVENT,
    ANY_UNCLAIMED_WORKFLOW,
    CLAIM_EVENTS,
    CLAIM_WORKFLOWS,
    DELETE_SHARED_STATE,
    DELETE_SUBSCRIPTION,
    EVENTS_SINCE,
    INSERT_ERROR,
    INSERT_EVENT,
    INSERT_HISTORY,
    INSERT_NEW_WORKFLOW,
    INSERT_SHARED_STATE,
    INSERT_SUBSCRIPTION,
    INSERT_WORKFLOW,
    MARK_EVENT,
    MATCHING_SUBSCRIPTIONS,
    PURGE_DEPENDENTS,
    PURGE_WORKFLOWS,
    QUARANTINE_WORKFLOW,
    RUNNABLE_EVENTS,
    RUNNABLE_WORKFLOWS,
    SELECT_ERRORS,
    SELECT_EVENT,
    SELECT_HISTORY,
    SELECT_SHARED_STATE,
    SELECT_SHARED_STATES,
    SELECT_SUMMARIES,
    SELECT_WORKFLOWS,
    UPDATE_SHARED_STATE,
    UPDATE_WORKFLOW_STATE,
    UPSERT_WORKFLOW,
    WORKFLOW_IDENTITY,
)
from ._values import decode_document, encode_document, from_micros, to_micros

__all__ = ["SqlitePersistenceProvider"]


def _write_workflow(
    row: tuple[Any, ...], state_then_identity: tuple[Any, ...], connection: sqlite3.Connection
) -> None:
    """Update the instance's state, or store the whole row when its identity differs or it
    is new. Either statement alone is atomic, and the first changes nothing when it misses."""
    if connection.execute(UPDATE_WORKFLOW_STATE, state_then_identity).rowcount == 0:
        connection.execute(UPSERT_WORKFLOW, row)


class SqlitePersistenceProvider(PersistenceProvider):
    """Stores workflows, subscriptions, events and errors in one SQLite database file.

    `path` is the database file (created when missing) or ``":memory:"`` for a private
    in-memory store. `timeout` (seconds) bounds every wait for another connection's lock.
    """

    keeps_pointer_history = True
    runs_in_process = True

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
        self._rows = SqliteRows(serializer or DEFAULT_SERIALIZER)
        self._db = Database(self._path, float(timeout))

    @property
    def path(self) -> str:
        """The database file, or ``":memory:"``."""
        return self._path

    def __repr__(self) -> str:
        return f"SqlitePersistenceProvider({self._path!r})"

    def start(self) -> None:
        """Create or migrate the tables once per file; safe to call again, from any process."""
        self._db.start()

    def close(self) -> None:
        """Close the connections; a later call opens them again (an in-memory database,
        which would be lost, stays open)."""
        self._db.close()

    # ------------------------------------------------------------------ workflows

    def create_workflow(self, workflow: WorkflowInstance) -> str:
        workflow_id = workflow.id or new_id()
        row = self._rows.workflow_row(workflow, workflow_id)
        self._db.write(lambda connection: connection.execute(INSERT_WORKFLOW, row), "create_workflow", False)
        workflow.id = workflow_id
        return workflow_id

    def create_workflow_if_new(self, workflow: WorkflowInstance) -> bool:
        if not workflow.id:
            raise InvalidArgumentError("create_workflow_if_new() needs an instance with an id")
        row = self._rows.workflow_row(workflow, workflow.id)
        return bool(
            self._db.write(
                lambda connection: connection.execute(INSERT_NEW_WORKFLOW, row).rowcount,
                "create_workflow_if_new",
                False,
            )
        )

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
        row = self._rows.workflow_row(workflow, workflow.id)
        identity = len(WORKFLOW_IDENTITY)
        state_then_identity = row[identity:] + row[:identity]
        if not changes.has_side_effects:  # the usual pass: one statement, atomic by itself
            self._db.write(partial(_write_workflow, row, state_then_identity), "persist_workflow", False)
            return
        subscription_ids = [subscription.id or new_id() for subscription in changes.subscriptions]
        subscription_rows = [
            self._rows.subscription_row(subscription, subscription_id)
            for subscription, subscription_id in zip(changes.subscriptions, subscription_ids, strict=True)
        ]
        ended_rows = [(subscription_id,) for subscription_id in changes.ended_subscriptions]
        error_rows = self._rows.error_rows(changes.errors)
        event_ids = [event.id or new_id() for event in changes.events]
        event_rows = [
            self._rows.event_row(event, event_id)
            for event, event_id in zip(changes.events, event_ids, strict=True)
        ]
        mark_rows = [(int(processed), event_id) for event_id, processed in changes.event_marks.items()]
        history_rows = [
            (workflow.id, encode_document(self._rows.pointer_document(pointer, index), "archived pointer"))
            for index, pointer in enumerate(changes.archived_pointers)
        ]

        def work(connection: sqlite3.Connection) -> None:
            _write_workflow(row, state_then_identity, connection)
            for statement, rows in (
                (INSERT_SUBSCRIPTION, subscription_rows),
                (DELETE_SUBSCRIPTION, ended_rows),
                (INSERT_ERROR, error_rows),
                (INSERT_EVENT, event_rows),
                (MARK_EVENT, mark_rows),
                (INSERT_HISTORY, history_rows),
            ):
                if rows:
                    connection.executemany(statement, rows)

        self._db.write(work, "persist_workflow")
        for subscription, subscription_id in zip(changes.subscriptions, subscription_ids, strict=True):
            subscription.id = subscription_id
        for event, event_id in zip(changes.events, event_ids, strict=True):
            event.id = event_id

    def quarantine_workflow(self, workflow_id: str, error: ExecutionError) -> bool:
        """Only the status columns change: the row that cannot be loaded stays as it is."""
        error_rows = self._rows.error_rows([error])

        def work(connection: sqlite3.Connection) -> int:
            changed = connection.execute(
                QUARANTINE_WORKFLOW, (WorkflowInstance.SUSPENDED, workflow_id)
            ).rowcount
            connection.executemany(INSERT_ERROR, error_rows)
            return int(changed)

        return bool(self._db.write(work, "quarantine_workflow"))

    def get_workflow_instance(self, workflow_id: str) -> WorkflowInstance | None:
        rows = self._db.read(f"{SELECT_WORKFLOWS} WHERE id = ?", (workflow_id,), "get_workflow_instance")
        return self._rows.workflow_from_row(rows[0]) if rows else None

    def get_workflow_instances(
        self,
        status: int | None = None,
        definition_id: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        check_page(skip, take)
        where, parameters = sql_instance_filters(
            "?", to_micros, status, definition_id, created_from, created_to
        )
        rows = self._db.read(
            f"{SELECT_WORKFLOWS}{where} ORDER BY create_time, rowid LIMIT ? OFFSET ?",
            (*parameters, take, skip),
            "get_workflow_instances",
        )
        return [self._rows.workflow_from_row(row) for row in rows]

    def find_workflows(self, query: WorkflowQuery) -> list[WorkflowSummary]:
        where, parameters = sql_instance_filters(
            "?",
            to_micros,
            query.status,
            query.definition_id,
            query.created_from,
            query.created_to,
            query.reference,
        )
        order = "DESC" if query.newest_first else "ASC"
        rows = self._db.read(
            f"{SELECT_SUMMARIES}{where} ORDER BY create_time {order}, rowid {order} LIMIT ? OFFSET ?",
            (*parameters, query.take, query.skip),
            "find_workflows",
        )
        return [WorkflowSummary(*row[:7], *(from_micros(value) for value in row[7:])) for row in rows]

    def purge_workflows(self, status: int, older_than: datetime) -> int:
        parameters = (status, to_micros(older_than, "older_than"))

        def work(connection: sqlite3.Connection) -> int:
            for statement in PURGE_DEPENDENTS:
                connection.execute(statement, parameters)
            return connection.execute(PURGE_WORKFLOWS, parameters).rowcount

        return int(self._db.write(work, "purge_workflows"))

    def get_runnable_instances(self, as_at: datetime | None = None) -> list[str]:
        limit = to_micros(utcnow() if as_at is None else as_at, "as_at")
        rows = self._db.read(RUNNABLE_WORKFLOWS, (WorkflowInstance.RUNNABLE, limit), "get_runnable_instances")
        return [workflow_id for (workflow_id,) in rows]

    def claim_runnable_instances(self, as_at: datetime, until: datetime) -> list[str]:
        now = to_micros(as_at, "as_at")
        return self._claim(
            ANY_UNCLAIMED_WORKFLOW,
            CLAIM_WORKFLOWS,
            (WorkflowInstance.RUNNABLE, now, now),
            to_micros(until, "until"),
            "claim runnable workflows",
        )

    def _claim(
        self, probe: str, claim: str, where: tuple[Any, ...], until: int | None, what: str
    ) -> list[str]:
        """Claim the rows `claim` selects, earliest first; a read first, so that a poll finding
        nothing to claim (the usual one) never takes the file's write lock."""
        if not self._db.read(probe, where, what):
            return []
        parameters = (until, *where)
        rows = self._db.write(
            lambda connection: connection.execute(claim, parameters).fetchall(), what, False
        )
        # RETURNING gives rows in no set order; NULL times (events due at once) sort first.
        rows.sort(key=lambda row: (row[1] is not None, row[1] or 0, row[2]))
        return [row[0] for row in rows]

    # ------------------------------------------------------------------ subscriptions

    def create_subscription(self, subscription: EventSubscription) -> str:
        subscription_id = subscription.id or new_id()
        row = self._rows.subscription_row(subscription, subscription_id)
        self._db.write(
            lambda connection: connection.execute(INSERT_SUBSCRIPTION, row), "create_subscription", False
        )
        subscription.id = subscription_id
        return subscription_id

    def get_subscriptions(
        self, event_name: str, event_key: str | None, as_of: datetime
    ) -> list[EventSubscription]:
        rows = self._db.read(
            MATCHING_SUBSCRIPTIONS,
            (event_name, event_key_text(event_key), to_micros(as_of, "as_of")),
            "get_subscriptions",
        )
        return [self._rows.subscription_from_row(row) for row in rows]

    def terminate_subscription(self, subscription_id: str) -> None:
        self._db.write(
            lambda connection: connection.execute(DELETE_SUBSCRIPTION, (subscription_id,)),
            "terminate_subscription",
            False,
        )

    # ------------------------------------------------------------------ events

    def create_event(self, event: Event) -> str:
        event_id = event.id or new_id()
        row = self._rows.event_row(event, event_id)
        self._db.write(lambda connection: connection.execute(INSERT_EVENT, row), "create_event", False)
        event.id = event_id
        return event_id

    def get_event(self, event_id: str) -> Event | None:
        rows = self._db.read(SELECT_EVENT, (event_id,), "get_event")
        if not rows:
            return None
        event = Event()
        event.id, event.event_name, event.event_key, data, event_time, processed = rows[0]
        event.event_data = self._rows.loads(data, f"event_data of event {event_id!r}")
        event.event_time = from_micros(event_time)
        event.is_processed = bool(processed)
        return event

    def get_runnable_events(self, as_at: datetime | None = None) -> list[str]:
        limit = to_micros(utcnow() if as_at is None else as_at, "as_at")
        return [event_id for (event_id,) in self._db.read(RUNNABLE_EVENTS, (limit,), "get_runnable_events")]

    def claim_runnable_events(self, as_at: datetime, until: datetime) -> list[str]:
        now = to_micros(as_at, "as_at")
        return self._claim(
            ANY_UNCLAIMED_EVENT, CLAIM_EVENTS, (now, now), to_micros(until, "until"), "claim runnable events"
        )

    def get_events(self, event_name: str, event_key: str | None, as_of: datetime) -> list[str]:
        rows = self._db.read(
            EVENTS_SINCE,
            (event_name, event_key_text(event_key), to_micros(as_of, "as_of")),
            "get_events",
        )
        return [event_id for (event_id,) in rows]

    def mark_event_processed(self, event_id: str) -> None:
        self._db.write(
            lambda connection: connection.execute(MARK_EVENT, (1, event_id)), "mark_event_processed", False
        )

    def mark_event_unprocessed(self, event_id: str) -> None:
        self._db.write(
            lambda connection: connection.execute(MARK_EVENT, (0, event_id)), "mark_event_unprocessed", False
        )

    # ------------------------------------------------------------------ errors

    def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        rows = self._rows.error_rows(errors)
        if rows:
            self._db.write(lambda connection: connection.executemany(INSERT_ERROR, rows), "persist_errors")

    def get_pointer_history(self, workflow_id: str, skip: int = 0, take: int = 100) -> list[ExecutionPointer]:
        check_page(skip, take)
        where = f"the pointer history of workflow {workflow_id!r}"
        rows = self._db.read(SELECT_HISTORY, (workflow_id, take, skip), "get_pointer_history")
        return [self._rows.load_pointer(decode_document(text, where), where) for (text,) in rows]

    def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        found = []
        for row in self._db.read(SELECT_ERRORS, (workflow_id,), "get_errors"):
            error = ExecutionError()
            error.workflow_id, error.execution_pointer_id, error_time, error.message, error.traceback = row
            error.error_time = from_micros(error_time)
            found.append(error)
        return found

    # ------------------------------------------------------------------ shared state

    def _shared_state(self, kind: str, row: Sequence[Any]) -> SharedState:
        key, text, version = row
        return SharedState(kind, key, self._rows.loads(text, f"shared state {kind}/{key}"), version)

    def get_shared_state(self, kind: str, key: str) -> SharedState | None:
        rows = self._db.read(SELECT_SHARED_STATE, (kind, key), "get_shared_state")
        return self._shared_state(kind, rows[0]) if rows else None

    def get_shared_states(self, kind: str, take: int | None = None) -> list[SharedState]:
        rows = self._db.read(SELECT_SHARED_STATES, (kind, -1 if take is None else take), "get_shared_states")
        return [self._shared_state(kind, row) for row in rows]

    def put_shared_state(self, state: SharedState) -> bool:
        text = self._rows.dumps(state.value, f"shared state {state.kind}/{state.key}")
        parameters: tuple[Any, ...] = (state.kind, state.key, text)
        statement = INSERT_SHARED_STATE
        if state.version:
            statement, parameters = UPDATE_SHARED_STATE, (text, state.kind, state.key, state.version)
        written = self._db.write(
            lambda connection: connection.execute(statement, parameters).rowcount, "put_shared_state", False
        )
        if written:
            state.version += 1
        return bool(written)

    def delete_shared_state(self, kind: str, key: str, version: int | None = None) -> bool:
        parameters = (kind, key, version, version)
        return bool(
            self._db.write(
                lambda connection: connection.execute(DELETE_SHARED_STATE, parameters).rowcount,
                "delete_shared_state",
                False,
            )
        )
