"""The tables of each provider, as numbered migrations applied at start-up.

Each component (the store, the queue) has its own list of migrations and its own version,
kept in ``<schema>.liteflow_schema``. Migration n (1-based) brings a component from version
n - 1 to n: append, never edit. A start-up applies the missing ones in one transaction that
first takes a transaction-scoped advisory lock, so nodes starting at once take turns and the
second finds the work done. ``{schema}`` in a statement is the provider's quoted schema name.
"""

from __future__ import annotations

import logging

from liteflow.core.errors import ProviderError

from ._database import Connection

__all__ = ["PERSISTENCE", "QUEUE", "migrate"]

_log = logging.getLogger("liteflow.postgres")

#: Migrations of one schema take turns (a key pair: apart from the lock provider's single keys).
_MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('liteflow.schema'), hashtext(%s))"

PERSISTENCE: tuple[tuple[str, ...], ...] = (
    # 1: the tables and the indexes of their queries
    (
        """CREATE TABLE {schema}.workflows (
        id text PRIMARY KEY,
        workflow_definition_id text NOT NULL,
        version integer NOT NULL,
        description text,
        reference text,
        parent_workflow_id text,
        status integer NOT NULL,
        next_execution timestamptz,
        create_time timestamptz,
        complete_time timestamptz,
        data jsonb NOT NULL,
        execution_pointers jsonb NOT NULL,
        trace_context text,
        seq bigint GENERATED ALWAYS AS IDENTITY)""",
        # Only runnable instances with a wake-up time are ever looked up by it.
        "CREATE INDEX workflows_runnable ON {schema}.workflows (next_execution, seq) "
        "WHERE status = 0 AND next_execution IS NOT NULL",
        "CREATE INDEX workflows_created ON {schema}.workflows (create_time NULLS FIRST, seq)",
        "CREATE INDEX workflows_definition ON {schema}.workflows (workflow_definition_id)",
        """CREATE TABLE {schema}.subscriptions (
        id text PRIMARY KEY,
        workflow_id text NOT NULL,
        step_id integer NOT NULL,
        execution_pointer_id text,
        event_name text NOT NULL,
        event_key text,
        subscribe_as_of timestamptz,
        seq bigint GENERATED ALWAYS AS IDENTITY)""",
        "CREATE INDEX subscriptions_match ON {schema}.subscriptions (event_name, event_key, subscribe_as_of)",
        "CREATE INDEX subscriptions_workflow ON {schema}.subscriptions (workflow_id)",
        """CREATE TABLE {schema}.events (
        id text PRIMARY KEY,
        event_name text NOT NULL,
        event_key text,
        event_data jsonb NOT NULL,
        event_time timestamptz,
        is_processed boolean NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY)""",
        "CREATE INDEX events_match ON {schema}.events (event_name, event_key, event_time)",
        "CREATE INDEX events_unprocessed ON {schema}.events (event_time NULLS FIRST, seq) "
        "WHERE NOT is_processed",
        """CREATE TABLE {schema}.execution_errors (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workflow_id text NOT NULL,
        execution_pointer_id text,
        error_time timestamptz,
        message text NOT NULL)""",
        "CREATE INDEX execution_errors_workflow ON {schema}.execution_errors (workflow_id, id)",
        # finished pointers that left their instance (see liteflow.core.history)
        """CREATE TABLE {schema}.pointer_history (
        position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workflow_id text NOT NULL,
        pointer jsonb NOT NULL)""",
        "CREATE INDEX pointer_history_workflow ON {schema}.pointer_history (workflow_id, position)",
    ),
    # 2: what operators did to each instance, the tracebacks of step errors, and operators'
    # look-ups by reference
    (
        "ALTER TABLE {schema}.workflows ADD COLUMN actions jsonb",
        "ALTER TABLE {schema}.execution_errors ADD COLUMN traceback text",
        "CREATE INDEX workflows_reference ON {schema}.workflows (reference) WHERE reference IS NOT NULL",
    ),
    # 3: versioned records the hosts coordinate through (schedules, flow limits)
    (
        """CREATE TABLE {schema}.shared_state (
        kind text NOT NULL,
        key text NOT NULL,
        value jsonb NOT NULL,
        version bigint NOT NULL,
        PRIMARY KEY (kind, key))""",
    ),
    # 4: until when a poll claimed the due work it queued (see claim_runnable_instances)
    (
        "ALTER TABLE {schema}.workflows ADD COLUMN queued_until timestamptz",
        "ALTER TABLE {schema}.events ADD COLUMN queued_until timestamptz",
    ),
)

QUEUE: tuple[tuple[str, ...], ...] = (
    # 1: one table for both queues; an item waiting (not taken) is there once
    (
        """CREATE TABLE {schema}.queue (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        queue smallint NOT NULL,
        item text NOT NULL,
        taken_until timestamptz)""",
        "CREATE UNIQUE INDEX queue_waiting ON {schema}.queue (queue, item) WHERE taken_until IS NULL",
        "CREATE INDEX queue_order ON {schema}.queue (queue, id)",
    ),
)


def migrate(
    connection: Connection, schema: str, component: str, migrations: tuple[tuple[str, ...], ...], where: str
) -> None:
    """Bring `component` in the quoted `schema` to its latest version; refuse a newer one."""
    latest = len(migrations)
    with connection.transaction():
        connection.execute(_MIGRATION_LOCK, (schema,))
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.liteflow_schema "
            "(component text PRIMARY KEY, version integer NOT NULL)"
        )
        row = connection.execute(
            f"SELECT version FROM {schema}.liteflow_schema WHERE component = %s", (component,)
        ).fetchone()
        version = 0 if row is None else int(row[0])
        if version > latest:
            raise ProviderError(
                f"{where}: the {component} tables have schema version {version}, newer than this "
                f"LiteFlow understands ({latest}); upgrade LiteFlow"
            )
        for number in range(version + 1, latest + 1):
            for statement in migrations[number - 1]:
                connection.execute(statement.format(schema=schema))
            if version:
                _log.info("%s: %s tables migrated to schema version %d", where, component, number)
        if version < latest:
            connection.execute(
                f"INSERT INTO {schema}.liteflow_schema (component, version) VALUES (%s, %s) "
                "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (component, latest),
            )
