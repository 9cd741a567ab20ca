"""`PostgresPersistenceProvider`: instances, subscriptions, events and errors as rows of one schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from liteflow.core.changes import WorkflowChanges
from liteflow.core.clock import utcnow
from liteflow.core.errors import InvalidArgumentError
from liteflow.core.instance_filters import sql_instance_filters
from liteflow.core.providers import PersistenceProvider
from liteflow.core.queries import WorkflowQuery, WorkflowSummary, check_page
from liteflow.core.records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowInstance,
    new_id,
)
from liteflow.core.serialization import DEFAULT_SERIALIZER, Serializer
from liteflow.core.shared_state import SharedState

from ._database import Connection, Database, ServerAddress, quoted_schema
from ._rows import (
    ERROR_COLUMNS,
    EVENT_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    Rows,
    error_from_row,
    error_row,
    stored_time,
    subscription_from_row,
    subscription_row,
    summary_from_row,
)
from ._schema import PERSISTENCE, migrate
from ._statements import Statements

__all__ = ["PostgresPersistenceProvider"]


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows turned into one list per column (what ``unnest`` takes)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


class PostgresPersistenceProvider(PersistenceProvider):
    """Stores workflows, subscriptions, events and errors in tables of one PostgreSQL schema.

    `dsn` is a ``postgresql://`` URL or a ``key=value`` connection string; `schema` (created
    when missing) holds the tables, so several applications can share a database. A pass is
    one statement: the instance and everything it produced, all or nothing. User values are
    stored as ``jsonb`` through `serializer`, readable and queryable by operators. Finished
    pointers the engine moves out of a long-running instance go to ``pointer_history`` in
    the same statement.

    The server must accept a connection within `connect_timeout` seconds at construction.
    Later, while it cannot be reached (a restart), every call is retried on new connections
    for up to `retry_timeout` seconds before it raises `ProviderError`. At most
    `max_connections` connections are open at once.
    """

    keeps_pointer_history = True

    def __init__(
        self,
        dsn: str,
        schema: str = "liteflow",
        serializer: Serializer | None = None,
        *,
        connect_timeout: float = 5.0,
        retry_timeout: float = 30.0,
        max_connections: int = 10,
    ) -> None:
        self._schema = quoted_schema(schema)
        if serializer is not None and not isinstance(serializer, Serializer):
            raise InvalidArgumentError(f"serializer must be a Serializer, got {type(serializer).__name__}")
        self._rows = Rows(serializer or DEFAULT_SERIALIZER)
        self._sql = Statements(self._schema)
        self._db = Database(
            ServerAddress(dsn),
            connect_timeout=connect_timeout,
            retry_timeout=retry_timeout,
            max_connections=max_connections,
        )
        self.schema = schema
        self.address = str(self._db.address)

    def __repr__(self) -> str:
        return f"PostgresPersistenceProvider({self.address!r}, schema={self.schema!r})"

    def start(self) -> None:
        """Create or migrate the tables (nodes starting at once take turns)."""
        self._db.run(
            "create or migrate the tables",
            lambda connection: migrate(connection, self._schema, "persistence", PERSISTENCE, repr(self)),
        )

    def close(self) -> None:
        """Close the connections; a later call opens them again."""
        self._db.close()

    def _fetch(self, what: str, sql: str, parameters: Sequence[Any]) -> list[Any]:
        return self._db.run(what, lambda connection: connection.execute(sql, parameters).fetchall())

    def _ids(self, what: str, sql: str, parameters: Sequence[Any]) -> list[str]:
        return [row[0] for row in self._fetch(what, sql, parameters)]

    # ------------------------------------------------------------------ workflows

    def create_workflow(self, workflow: WorkflowInstance) -> str:
        workflow_id = workflow.id or new_id()
        row = self._rows.workflow_row(workflow, workflow_id)
        self._db.write(
            f"create workflow {workflow_id}",
            lambda connection: self._sql.insert_workflow.execute(connection, row),
        )
        workflow.id = workflow_id
        return workflow_id

    def create_workflow_if_new(self, workflow: WorkflowInstance) -> bool:
        """One insert that does nothing when the id exists. Should the connection die after
        it committed, the retry finds the row and answers False: the caller then finds the
        instance (the poller runs it)."""
        if not workflow.id:
            raise InvalidArgumentError("create_workflow_if_new() needs an instance with an id")
        row = self._rows.workflow_row(workflow, workflow.id)
        return self._count(f"create workflow {workflow.id}", self._sql.insert_new_workflow, row) > 0

    def _count(self, what: str, sql: str, parameters: Sequence[Any]) -> int:
        """Rows changed by one statement."""
        return int(self._db.run(what, lambda connection: connection.execute(sql, parameters).rowcount))

    def persist_workflow(
        self, workflow: WorkflowInstance, subscriptions: Sequence[EventSubscription] = ()
    ) -> None:
        self.persist_changes(WorkflowChanges(workflow, subscriptions=list(subscriptions)))

    def persist_changes(self, changes: WorkflowChanges) -> None:
        """One statement: the instance alone, or with everything its pass produced."""
        workflow = changes.workflow
        if not workflow.id:
            raise InvalidArgumentError(
                "persist_workflow needs an instance with an id; create_workflow it first"
            )
        # Everything is serialized before anything is sent, so a bad value changes nothing.
        row = self._rows.workflow_row(workflow, workflow.id)
        if not changes.has_side_effects:
            update = (*row[1:], row[0])

            def write(connection: Connection) -> None:
                # Either statement alone is atomic, and the update changes nothing when it misses.
                if self._sql.update_workflow.execute(connection, update) == 0:
                    connection.execute(self._sql.upsert_workflow, row)

            self._db.run(f"write workflow {workflow.id}", write)
            return
        subscription_ids = [subscription.id or new_id() for subscription in changes.subscriptions]
        event_ids = [event.id or new_id() for event in changes.events]
        parameters = [
            *row,
            *_columns(
                [
                    subscription_row(s, i)
                    for s, i in zip(changes.subscriptions, subscription_ids, strict=True)
                ],
                len(SUBSCRIPTION_COLUMNS),
            ),
            list(changes.ended_subscriptions),
            *_columns([error_row(error) for error in changes.errors], len(ERROR_COLUMNS)),
            *_columns(
                [self._rows.event_row(e, i) for e, i in zip(changes.events, event_ids, strict=True)],
                len(EVENT_COLUMNS),
            ),
            list(changes.event_marks),
            list(changes.event_marks.values()),
            workflow.id,
            self._rows.archived_pointers(changes.archived_pointers),
        ]
        self._db.write(
            f"write workflow {workflow.id} and its pass",
            lambda connection: connection.execute(self._sql.persist_changes, parameters),
        )
        for subscription, subscription_id in zip(changes.subscriptions, subscription_ids, strict=True):
            subscription.id = subscription_id
        for event, event_id in zip(changes.events, event_ids, strict=True):
            event.id = event_id

    def get_pointer_history(self, workflow_id: str, skip: int = 0, take: int = 100) -> list[ExecutionPointer]:
        check_page(skip, take)
        rows = self._fetch(
            f"load the pointer history of workflow {workflow_id}",
            self._sql.select_history,
            (workflow_id, take, skip),
        )
        return [
            self._rows.pointer_from_history(document, workflow_id, skip + index)
            for index, (document,) in enumerate(rows)
        ]

    def quarantine_workflow(self, workflow_id: str, error: ExecutionError) -> bool:
        """One statement: the status columns and the error; the row that cannot be loaded stays."""
        parameters = (workflow_id, *error_row(error))
        (suspended,) = self._fetch(f"suspend workflow {workflow_id}", self._sql.quarantine, parameters)[0]
        return bool(suspended)

    def get_workflow_instance(self, workflow_id: str) -> WorkflowInstance | None:
        sql = self._sql
        rows = self._db.run(
            f"load workflow {workflow_id}",
            lambda connection: sql.select_workflow.fetch(connection, (workflow_id,), sql.workflow_loaders),
        )
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
            "%s", stored_time, status, definition_id, created_from, created_to
        )
        rows = self._fetch(
            "query workflows",
            f"{self._sql.select_workflows}{where}{self._sql.workflow_order}",
            (*parameters, take, skip),
        )
        return [self._rows.workflow_from_row(row) for row in rows]

    def find_workflows(self, query: WorkflowQuery) -> list[WorkflowSummary]:
        where, parameters = sql_instance_filters(
            "%s",
            stored_time,
            query.status,
            query.definition_id,
            query.created_from,
            query.created_to,
            query.reference,
        )
        order = self._sql.newest_first if query.newest_first else self._sql.workflow_order
        rows = self._fetch(
            "find workflows",
            f"{self._sql.select_summaries}{where}{order}",
            (*parameters, query.take, query.skip),
        )
        return [summary_from_row(row) for row in rows]

    def purge_workflows(self, status: int, older_than: datetime) -> int:
        parameters = (status, stored_time(older_than, "older_than"))
        (purged,) = self._fetch("purge workflows", self._sql.purge, parameters)[0]
        return int(purged)

    def get_runnable_instances(self, as_at: datetime | None = None) -> list[str]:
        limit = stored_time(utcnow() if as_at is None else as_at, "as_at")
        return self._ids("find runnable workflows", self._sql.runnable_workflows, (limit,))

    def claim_runnable_instances(self, as_at: datetime, until: datetime) -> list[str]:
        return self._claim("claim runnable workflows", self._sql.claim_workflows, as_at, until)

    def _claim(self, what: str, sql: str, as_at: datetime, until: datetime) -> list[str]:
        now = stored_time(as_at, "as_at")
        rows = self._fetch(what, sql, (stored_time(until, "until"), now, now))
        # RETURNING gives rows in no set order; NULL times (events due at once) sort first.
        rows.sort(key=lambda row: (row[1] is not None, row[1] or now, row[2]))
        return [row[0] for row in rows]

    # ------------------------------------------------------------------ subscriptions

    def create_subscription(self, subscription: EventSubscription) -> str:
        subscription_id = subscription.id or new_id()
        row = subscription_row(subscription, subscription_id)
        self._db.write(
            f"create subscription {subscription_id}",
            lambda connection: connection.execute(self._sql.insert_subscription, row),
        )
        subscription.id = subscription_id
        return subscription_id

    def get_subscriptions(
        self, event_name: str, event_key: str | None, as_of: datetime
    ) -> list[EventSubscription]:
        sql, parameters = self._by_key(
            self._sql.matching_subscriptions,
            self._sql.matching_keyless_subscriptions,
            event_name,
            event_key,
            stored_time(as_of, "as_of"),
        )
        rows = self._fetch(f"find subscriptions to {event_name}/{event_key}", sql, parameters)
        return [subscription_from_row(row) for row in rows]

    @staticmethod
    def _by_key(
        keyed: str, keyless: str, name: str, key: str | None, when: datetime | None
    ) -> tuple[str, tuple[Any, ...]]:
        """The query for (name, key), or for (name, no key): ``= NULL`` would match nothing."""
        if key is None:
            return keyless, (name, when)
        return keyed, (name, str(key), when)

    def terminate_subscription(self, subscription_id: str) -> None:
        self._db.run(
            f"terminate subscription {subscription_id}",
            lambda connection: connection.execute(self._sql.delete_subscription, (subscription_id,)),
        )

    # ------------------------------------------------------------------ events

    def create_event(self, event: Event) -> str:
        event_id = event.id or new_id()
        row = self._rows.event_row(event, event_id)
        self._db.write(
            f"create event {event_id}", lambda connection: connection.execute(self._sql.insert_event, row)
        )
        event.id = event_id
        return event_id

    def get_event(self, event_id: str) -> Event | None:
        rows = self._fetch(f"load event {event_id}", self._sql.select_event, (event_id,))
        return self._rows.event_from_row(rows[0]) if rows else None

    def get_runnable_events(self, as_at: datetime | None = None) -> list[str]:
        limit = stored_time(utcnow() if as_at is None else as_at, "as_at")
        return self._ids("find runnable events", self._sql.runnable_events, (limit,))

    def claim_runnable_events(self, as_at: datetime, until: datetime) -> list[str]:
        return self._claim("claim runnable events", self._sql.claim_events, as_at, until)

    def get_events(self, event_name: str, event_key: str | None, as_of: datetime) -> list[str]:
        sql, parameters = self._by_key(
            self._sql.events_since,
            self._sql.keyless_events_since,
            event_name,
            event_key,
            stored_time(as_of, "as_of"),
        )
        return self._ids(f"find events {event_name}/{event_key}", sql, parameters)

    def mark_event_processed(self, event_id: str) -> None:
        self._mark_event(event_id, True)

    def mark_event_unprocessed(self, event_id: str) -> None:
        self._mark_event(event_id, False)

    def _mark_event(self, event_id: str, processed: bool) -> None:
        self._db.run(
            f"mark event {event_id}",
            lambda connection: connection.execute(self._sql.mark_event, (processed, event_id)),
        )

    def mark_event_failed(self, event_id: str, error: ExecutionError) -> None:
        """The error and the mark in one transaction."""

        def work(connection: Connection) -> None:
            with connection.transaction():
                connection.execute(self._sql.insert_error, error_row(error))
                connection.execute(self._sql.mark_event, (True, event_id))

        self._db.run(f"record the failure of event {event_id}", work)

    # ------------------------------------------------------------------ errors

    def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        rows = [error_row(error) for error in errors]

        def work(connection: Connection) -> None:
            with connection.transaction():
                connection.cursor().executemany(self._sql.insert_error, rows)

        if rows:
            self._db.run("record execution errors", work)

    def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        rows = self._fetch(f"load errors of workflow {workflow_id}", self._sql.select_errors, (workflow_id,))
        return [error_from_row(row) for row in rows]

    # ------------------------------------------------------------------ shared state

    def get_shared_state(self, kind: str, key: str) -> SharedState | None:
        rows = self._fetch(f"load shared state {kind}/{key}", self._sql.select_shared_state, (kind, key))
        return self._rows.shared_state(kind, rows[0]) if rows else None

    def get_shared_states(self, kind: str, take: int | None = None) -> list[SharedState]:
        rows = self._fetch(f"list shared state {kind}", self._sql.select_shared_states, (kind, take))
        return [self._rows.shared_state(kind, row) for row in rows]

    def put_shared_state(self, state: SharedState) -> bool:
        value = self._rows.shared_value(state)
        what = f"write shared state {state.kind}/{state.key}"
        if state.version == 0:
            written = self._count(what, self._sql.insert_shared_state, (state.kind, state.key, value))
        else:
            parameters = (value, state.kind, state.key, state.version)
            written = self._count(what, self._sql.update_shared_state, parameters)
        if written:
            state.version += 1
        return written > 0

    def delete_shared_state(self, kind: str, key: str, version: int | None = None) -> bool:
        what = f"delete shared state {kind}/{key}"
        if version is None:
            return self._count(what, self._sql.delete_shared_state, (kind, key)) > 0
        return self._count(what, self._sql.delete_shared_state_version, (kind, key, version)) > 0
