"""The SQL the store runs, written once for its schema."""

from __future__ import annotations

from liteflow.core.queries import SUMMARY_FIELDS
from liteflow.core.records import WorkflowInstance

from ._direct import LOADERS, Columns, Prepared
from ._rows import (
    ERROR_COLUMNS,
    EVENT_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    WORKFLOW_COLUMN_TYPES,
    WORKFLOW_COLUMNS,
)

__all__ = ["Statements"]


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


class Statements:
    """Every statement of the store, for the quoted `schema`."""

    def __init__(self, schema: str) -> None:
        workflows = f"{schema}.workflows"
        subscriptions = f"{schema}.subscriptions"
        events = f"{schema}.events"
        errors = f"{schema}.execution_errors"
        history = f"{schema}.pointer_history"
        workflow_columns = ", ".join(WORKFLOW_COLUMNS)
        subscription_columns = ", ".join(SUBSCRIPTION_COLUMNS)
        event_columns = ", ".join(EVENT_COLUMNS)
        error_columns = ", ".join(ERROR_COLUMNS)

        self.select_workflows = f"SELECT {workflow_columns} FROM {workflows}"
        # What a worker reads before each run of passes: prepared too.
        self.select_workflow = Prepared(f"{self.select_workflows} WHERE id = %s")
        self.workflow_loaders: Columns = tuple(LOADERS[kind] for kind in WORKFLOW_COLUMN_TYPES)
        insert_workflow = (
            f"INSERT INTO {workflows} ({workflow_columns}) VALUES ({_placeholders(len(WORKFLOW_COLUMNS))})"
        )
        # A start and a pass: the statements every workflow runs, prepared (see `_direct`).
        self.insert_workflow = Prepared(insert_workflow)
        self.insert_new_workflow = f"{insert_workflow} ON CONFLICT (id) DO NOTHING"
        # The usual write: a plain update, cheaper than an upsert's speculative insert. Its
        # parameters are the row's with the id moved last.
        self.update_workflow = Prepared(
            f"UPDATE {workflows} SET ({', '.join(WORKFLOW_COLUMNS[1:])}) = "
            f"({_placeholders(len(WORKFLOW_COLUMNS) - 1)}) WHERE id = %s"
        )
        # An instance never created is stored too, as the in-memory provider does.
        self.upsert_workflow = f"{insert_workflow} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
            f"{name} = excluded.{name}" for name in WORKFLOW_COLUMNS[1:]
        )
        # One statement writes a whole pass: atomic, and one round trip. Each list of new
        # rows arrives as one array per column.
        self.persist_changes = f"""WITH
            workflow AS ({self.upsert_workflow}),
            subscribed AS (
                INSERT INTO {subscriptions} ({subscription_columns})
                SELECT * FROM unnest(%s::text[], %s::text[], %s::integer[], %s::text[], %s::text[],
                    %s::text[], %s::timestamptz[])),
            ended AS (DELETE FROM {subscriptions} WHERE id = ANY(%s::text[])),
            failed AS (
                INSERT INTO {errors} ({error_columns})
                SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::text[])),
            published AS (
                INSERT INTO {events} ({event_columns})
                SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::jsonb[], %s::timestamptz[],
                    %s::boolean[])),
            marked AS (
                UPDATE {events} AS event SET is_processed = mark.processed
                FROM unnest(%s::text[], %s::boolean[]) AS mark (id, processed) WHERE event.id = mark.id),
            archived AS (
                INSERT INTO {history} (workflow_id, pointer)
                SELECT %s, archived.pointer FROM unnest(%s::jsonb[]) WITH ORDINALITY AS archived (pointer, n)
                ORDER BY archived.n)
            SELECT 1"""
        self.quarantine = f"""WITH
            suspended AS (
                UPDATE {workflows} SET status = {WorkflowInstance.SUSPENDED}, next_execution = NULL
                WHERE id = %s RETURNING 1),
            failed AS (INSERT INTO {errors} ({error_columns}) VALUES ({_placeholders(len(ERROR_COLUMNS))}))
            SELECT count(*) FROM suspended"""
        # Dependents go in the same statement, so a purge never leaves orphans.
        self.purge = f"""WITH
            purged AS (
                DELETE FROM {workflows}
                WHERE status = %s AND COALESCE(complete_time, create_time) < %s RETURNING id),
            subscriptions AS (DELETE FROM {subscriptions} WHERE workflow_id IN (SELECT id FROM purged)),
            history AS (DELETE FROM {history} WHERE workflow_id IN (SELECT id FROM purged)),
            errors AS (DELETE FROM {errors} WHERE workflow_id IN (SELECT id FROM purged))
            SELECT count(*) FROM purged"""
        self.runnable_workflows = (
            f"SELECT id FROM {workflows} WHERE status = {WorkflowInstance.RUNNABLE} "
            "AND next_execution <= %s ORDER BY next_execution, seq"
        )
        # The partial indexes find the due rows; the claim is checked on those only. Rows a
        # concurrent claim (or write) holds are skipped, never waited for: no poll deadlocks.
        unclaimed = "(queued_until IS NULL OR queued_until <= %s)"
        self.claim_workflows = (
            f"UPDATE {workflows} SET queued_until = %s WHERE id IN (SELECT id FROM {workflows} "
            f"WHERE status = {WorkflowInstance.RUNNABLE} AND next_execution <= %s AND {unclaimed} "
            "FOR UPDATE SKIP LOCKED) RETURNING id, next_execution, seq"
        )
        self.workflow_order = " ORDER BY create_time NULLS FIRST, seq LIMIT %s OFFSET %s"
        self.select_summaries = f"SELECT {', '.join(SUMMARY_FIELDS)} FROM {workflows}"
        # The exact reverse of the index on (create_time NULLS FIRST, seq): a backward scan.
        self.newest_first = " ORDER BY create_time DESC NULLS LAST, seq DESC LIMIT %s OFFSET %s"

        self.insert_subscription = (
            f"INSERT INTO {subscriptions} ({subscription_columns}) "
            f"VALUES ({_placeholders(len(SUBSCRIPTION_COLUMNS))})"
        )
        matching = (
            f"SELECT {subscription_columns} FROM {subscriptions} WHERE event_name = %s AND {{key}} "
            "AND (subscribe_as_of IS NULL OR subscribe_as_of <= %s) ORDER BY subscribe_as_of NULLS FIRST, seq"
        )
        # `event_key = NULL` matches nothing, and IS NOT DISTINCT FROM cannot use the index.
        self.matching_subscriptions = matching.format(key="event_key = %s")
        self.matching_keyless_subscriptions = matching.format(key="event_key IS NULL")
        self.delete_subscription = f"DELETE FROM {subscriptions} WHERE id = %s"

        self.insert_event = (
            f"INSERT INTO {events} ({event_columns}) VALUES ({_placeholders(len(EVENT_COLUMNS))})"
        )
        self.select_event = f"SELECT {event_columns} FROM {events} WHERE id = %s"
        self.runnable_events = (
            f"SELECT id FROM {events} WHERE NOT is_processed AND (event_time IS NULL OR event_time <= %s) "
            "ORDER BY event_time NULLS FIRST, seq"
        )
        self.claim_events = (
            f"UPDATE {events} SET queued_until = %s WHERE id IN (SELECT id FROM {events} "
            f"WHERE NOT is_processed AND (event_time IS NULL OR event_time <= %s) AND {unclaimed} "
            "FOR UPDATE SKIP LOCKED) RETURNING id, event_time, seq"
        )
        since = (
            f"SELECT id FROM {events} WHERE event_name = %s AND {{key}} "
            "AND (event_time IS NULL OR event_time >= %s) ORDER BY event_time NULLS FIRST, seq"
        )
        self.events_since = since.format(key="event_key = %s")
        self.keyless_events_since = since.format(key="event_key IS NULL")
        self.mark_event = f"UPDATE {events} SET is_processed = %s WHERE id = %s"

        self.select_history = (
            f"SELECT pointer FROM {history} WHERE workflow_id = %s ORDER BY position LIMIT %s OFFSET %s"
        )

        self.insert_error = (
            f"INSERT INTO {errors} ({error_columns}) VALUES ({_placeholders(len(ERROR_COLUMNS))})"
        )
        self.select_errors = f"SELECT {error_columns} FROM {errors} WHERE workflow_id = %s ORDER BY id"

        shared = f"{schema}.shared_state"
        self.select_shared_state = f"SELECT key, value, version FROM {shared} WHERE kind = %s AND key = %s"
        self.select_shared_states = (
            f"SELECT key, value, version FROM {shared} WHERE kind = %s ORDER BY key LIMIT %s"
        )
        self.insert_shared_state = (
            f"INSERT INTO {shared} (kind, key, value, version) VALUES (%s, %s, %s, 1) ON CONFLICT DO NOTHING"
        )
        self.update_shared_state = (
            f"UPDATE {shared} SET value = %s, version = version + 1 "
            "WHERE kind = %s AND key = %s AND version = %s"
        )
        self.delete_shared_state = f"DELETE FROM {shared} WHERE kind = %s AND key = %s"
        self.delete_shared_state_version = f"{self.delete_shared_state} AND version = %s"
