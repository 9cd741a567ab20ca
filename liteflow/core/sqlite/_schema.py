"""The SQLite store's tables, their numbered migrations, and the statements the provider runs."""

from __future__ import annotations

from ..queries import SUMMARY_FIELDS

MEMORY = ":memory:"
#: Migration n (1-based) brings a file from schema version n - 1 to n. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the tables and the indexes of their queries
    (
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
    ),
    # 2: purging an instance finds its subscriptions by index, not by a scan
    ("CREATE INDEX IF NOT EXISTS subscriptions_workflow ON subscriptions (workflow_id)",),
    # 3: the trace context of the caller that started an instance
    ("ALTER TABLE workflows ADD COLUMN trace_context TEXT",),
    # 4: finished pointers that left their instance (see liteflow.core.history)
    (
        """CREATE TABLE IF NOT EXISTS pointer_history (
        position INTEGER PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        pointer TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS pointer_history_workflow ON pointer_history (workflow_id, position)",
    ),
    # 5: what operators did to each instance, the tracebacks of step errors, and operators'
    # look-ups by reference
    (
        "ALTER TABLE workflows ADD COLUMN actions TEXT",
        "ALTER TABLE execution_errors ADD COLUMN traceback TEXT",
        "CREATE INDEX IF NOT EXISTS workflows_reference ON workflows (reference) WHERE reference IS NOT NULL",
    ),
    # 6: versioned records the hosts coordinate through (schedules, flow limits)
    (
        """CREATE TABLE IF NOT EXISTS shared_state (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (kind, key)) WITHOUT ROWID""",
    ),
    # 7: until when a poll claimed the due work it queued (see claim_runnable_instances)
    (
        "ALTER TABLE workflows ADD COLUMN queued_until INTEGER",
        "ALTER TABLE events ADD COLUMN queued_until INTEGER",
    ),
)

# What a workflow is, fixed when it is created, then what a persist changes. The reference
# is set once too: kept out of the usual UPDATE, its index costs a pass nothing.
WORKFLOW_IDENTITY = ("id", "workflow_definition_id", "version", "create_time", "reference")
WORKFLOW_STATE = (
    "description",
    "parent_workflow_id",
    "status",
    "next_execution",
    "complete_time",
    "data",
    "execution_pointers",
    "trace_context",
    "actions",
)
WORKFLOW_COLUMNS = ", ".join(WORKFLOW_IDENTITY + WORKFLOW_STATE)
SELECT_WORKFLOWS = f"SELECT {WORKFLOW_COLUMNS} FROM workflows"
INSERT_WORKFLOW = (
    f"INSERT INTO workflows ({WORKFLOW_COLUMNS}) "
    f"VALUES ({', '.join('?' * (len(WORKFLOW_IDENTITY) + len(WORKFLOW_STATE)))})"
)
# SQLite rewrites every index on a column named in SET, changed or not, so the usual persist
# sets only the state columns, and only when the identity columns still match.
UPDATE_WORKFLOW_STATE = (
    f"UPDATE workflows SET {', '.join(f'{name} = ?' for name in WORKFLOW_STATE)} "
    f"WHERE id = ? AND {' AND '.join(f'{name} IS ?' for name in WORKFLOW_IDENTITY[1:])}"
)
# Otherwise replace the whole row; an upsert keeps the rowid (insertion order breaks
# create_time ties) and stores an instance never created, as the in-memory provider does.
UPSERT_WORKFLOW = f"{INSERT_WORKFLOW} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{name} = excluded.{name}" for name in (*WORKFLOW_IDENTITY[1:], *WORKFLOW_STATE)
)
SELECT_SUMMARIES = f"SELECT {', '.join(SUMMARY_FIELDS)} FROM workflows"
# A chosen id that exists already changes nothing (and says so through the row count).
INSERT_NEW_WORKFLOW = f"{INSERT_WORKFLOW} ON CONFLICT (id) DO NOTHING"
PURGE_CONDITION = "status = ? AND COALESCE(complete_time, create_time) < ?"
PURGE_DEPENDENTS = (
    f"DELETE FROM pointer_history WHERE workflow_id IN (SELECT id FROM workflows WHERE {PURGE_CONDITION})",
    f"DELETE FROM subscriptions WHERE workflow_id IN (SELECT id FROM workflows WHERE {PURGE_CONDITION})",
    f"DELETE FROM execution_errors WHERE workflow_id IN (SELECT id FROM workflows WHERE {PURGE_CONDITION})",
)
QUARANTINE_WORKFLOW = "UPDATE workflows SET status = ?, next_execution = NULL WHERE id = ?"
INSERT_HISTORY = "INSERT INTO pointer_history (workflow_id, pointer) VALUES (?, ?)"
SELECT_HISTORY = (
    "SELECT pointer FROM pointer_history WHERE workflow_id = ? ORDER BY position LIMIT ? OFFSET ?"
)
PURGE_WORKFLOWS = f"DELETE FROM workflows WHERE {PURGE_CONDITION}"
RUNNABLE_WORKFLOWS = (
    "SELECT id FROM workflows WHERE status = ? AND next_execution <= ? ORDER BY next_execution, rowid"
)
# The index on (status, next_execution) finds the due rows; the claim is checked on those only.
# Parameters: (RUNNABLE, now, now) for instances, (now, now) for events; a claim puts `until` first.
UNCLAIMED = "(queued_until IS NULL OR queued_until <= ?)"
UNCLAIMED_WORKFLOWS = f"status = ? AND next_execution <= ? AND {UNCLAIMED}"
ANY_UNCLAIMED_WORKFLOW = f"SELECT 1 FROM workflows WHERE {UNCLAIMED_WORKFLOWS} LIMIT 1"
CLAIM_WORKFLOWS = (
    f"UPDATE workflows SET queued_until = ? WHERE {UNCLAIMED_WORKFLOWS} RETURNING id, next_execution, rowid"
)

SUBSCRIPTION_COLUMNS = (
    "id, workflow_id, step_id, execution_pointer_id, event_name, event_key, subscribe_as_of"
)
INSERT_SUBSCRIPTION = f"INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
MATCHING_SUBSCRIPTIONS = (
    f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE event_name = ? AND event_key IS ? "
    "AND (subscribe_as_of IS NULL OR subscribe_as_of <= ?) ORDER BY subscribe_as_of, rowid"
)
DELETE_SUBSCRIPTION = "DELETE FROM subscriptions WHERE id = ?"

EVENT_COLUMNS = "id, event_name, event_key, event_data, event_time, is_processed"
INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
SELECT_EVENT = f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?"
RUNNABLE_EVENTS = (
    "SELECT id FROM events WHERE is_processed = 0 AND (event_time IS NULL OR event_time <= ?) "
    "ORDER BY event_time, rowid"
)
UNCLAIMED_EVENTS = f"is_processed = 0 AND (event_time IS NULL OR event_time <= ?) AND {UNCLAIMED}"
ANY_UNCLAIMED_EVENT = f"SELECT 1 FROM events WHERE {UNCLAIMED_EVENTS} LIMIT 1"
CLAIM_EVENTS = f"UPDATE events SET queued_until = ? WHERE {UNCLAIMED_EVENTS} RETURNING id, event_time, rowid"
EVENTS_SINCE = (
    "SELECT id FROM events WHERE event_name = ? AND event_key IS ? "
    "AND (event_time IS NULL OR event_time >= ?) ORDER BY event_time, rowid"
)
MARK_EVENT = "UPDATE events SET is_processed = ? WHERE id = ?"

INSERT_ERROR = (
    "INSERT INTO execution_errors (workflow_id, execution_pointer_id, error_time, message, traceback) "
    "VALUES (?, ?, ?, ?, ?)"
)
SELECT_ERRORS = (
    "SELECT workflow_id, execution_pointer_id, error_time, message, traceback FROM execution_errors "
    "WHERE workflow_id = ? ORDER BY id"
)

SELECT_SHARED_STATE = "SELECT key, value, version FROM shared_state WHERE kind = ? AND key = ?"
SELECT_SHARED_STATES = "SELECT key, value, version FROM shared_state WHERE kind = ? ORDER BY key LIMIT ?"
INSERT_SHARED_STATE = (
    "INSERT INTO shared_state (kind, key, value, version) VALUES (?, ?, ?, 1) ON CONFLICT DO NOTHING"
)
UPDATE_SHARED_STATE = (
    "UPDATE shared_state SET value = ?, version = version + 1 WHERE kind = ? AND key = ? AND version = ?"
)
DELETE_SHARED_STATE = "DELETE FROM shared_state WHERE kind = ? AND key = ? AND (? IS NULL OR version = ?)"
