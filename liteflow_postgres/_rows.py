"""How records become rows and rows records: times as ``timestamptz``, user values as ``jsonb``.

``timestamptz`` keeps microseconds, so times round-trip exactly and SQL compares them exactly.
An instance is one row; its execution pointers are one ``jsonb`` array of objects holding the
fields (see `record_schema`) that differ from a new pointer's, times as ISO 8601 text, so an
operator can read and query them. Payloads go through the provider's `Serializer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from psycopg.types.json import Jsonb

from liteflow.core.clock import to_utc
from liteflow.core.errors import InvalidArgumentError, SerializationError
from liteflow.core.queries import SUMMARY_FIELDS, WorkflowSummary
from liteflow.core.record_schema import (
    POINTER_ID_LISTS,
    POINTER_PAYLOADS,
    POINTER_TIMES,
    WORKFLOW_ACTIONS,
    WORKFLOW_PAYLOADS,
    WORKFLOW_PLAIN,
    WORKFLOW_TIMES,
    action_documents,
    check_workflow_fields,
    error_columns,
    restore_actions,
    restore_pointer,
    restore_subscription,
    subscription_columns,
)
from liteflow.core.record_schema import POINTER_PLAIN as SCHEMA_POINTER_PLAIN
from liteflow.core.records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowInstance,
    event_key_text,
)
from liteflow.core.serialization import Serializer
from liteflow.core.shared_state import SharedState

__all__ = [
    "ERROR_COLUMNS",
    "EVENT_COLUMNS",
    "SUBSCRIPTION_COLUMNS",
    "WORKFLOW_COLUMNS",
    "WORKFLOW_COLUMN_TYPES",
    "Rows",
    "error_from_row",
    "error_row",
    "stored_time",
    "summary_from_row",
    "subscription_from_row",
    "subscription_row",
]

WORKFLOW_COLUMNS = (
    "id",
    "workflow_definition_id",
    "version",
    "description",
    "reference",
    "parent_workflow_id",
    "status",
    "next_execution",
    "create_time",
    "complete_time",
    "data",
    "execution_pointers",
    "trace_context",
    "actions",
)
#: The SQL type of each of `WORKFLOW_COLUMNS` (see `_schema`).
WORKFLOW_COLUMN_TYPES = (
    "text",
    "text",
    "integer",
    "text",
    "text",
    "text",
    "integer",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "jsonb",
    "jsonb",
    "text",
    "jsonb",
)
SUBSCRIPTION_COLUMNS = (
    "id",
    "workflow_id",
    "step_id",
    "execution_pointer_id",
    "event_name",
    "event_key",
    "subscribe_as_of",
)
EVENT_COLUMNS = ("id", "event_name", "event_key", "event_data", "event_time", "is_processed")
ERROR_COLUMNS = ("workflow_id", "execution_pointer_id", "error_time", "message", "traceback")
_unstored = (
    set(WORKFLOW_PLAIN)
    | set(WORKFLOW_TIMES)
    | set(WORKFLOW_PAYLOADS)
    | {"execution_pointers", WORKFLOW_ACTIONS}
) - set(WORKFLOW_COLUMNS)
if _unstored:  # a field added to the models must get a column (and a migration) here
    raise RuntimeError(f"liteflow_postgres stores no column for the instance fields {sorted(_unstored)}")

# Pointer fields stored only when they differ from a new pointer's (most of them do not).
_POINTER_DEFAULTS = tuple(
    (name, default)
    for name, default in vars(ExecutionPointer()).items()
    if name in SCHEMA_POINTER_PLAIN or name in POINTER_ID_LISTS
)


def stored_time(value: Any, what: str) -> datetime | None:
    """A time as PostgreSQL takes it: aware UTC (a naive one is taken as UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{what} must be a datetime, got {type(value).__name__}: {value!r}")
    return to_utc(value)


def _time_text(value: Any, what: str) -> str:
    """A pointer's time inside its jsonb document: ISO 8601 text, exact to the microsecond."""
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{what} must be a datetime, got {type(value).__name__}: {value!r}")
    return to_utc(value).isoformat()


def _loaded_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if type(value) is not datetime:
        raise SerializationError(f"cannot load {where}: holds {type(value).__name__}, expected a time")
    return value.astimezone(timezone.utc)


def _pointer_time_from_text(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if type(value) is not str:
        raise SerializationError(f"cannot load {where}: holds {type(value).__name__}, expected a time")
    try:
        return to_utc(datetime.fromisoformat(value))
    except ValueError:
        raise SerializationError(f"cannot load {where}: {value!r} is not a time") from None


class Rows:
    """Instances and events to rows and back, their payloads through `serializer`."""

    def __init__(self, serializer: Serializer) -> None:
        self._serializer = serializer

    def _payload(self, value: Any, path: str) -> Jsonb:
        return Jsonb(self._serializer.to_document(value, path))

    def shared_value(self, state: SharedState) -> Jsonb:
        return self._payload(state.value, f"shared state {state.kind}/{state.key}")

    def shared_state(self, kind: str, row: Sequence[Any]) -> SharedState:
        key, document, version = row
        return SharedState(kind, key, self._value(document, f"shared state {kind}/{key}"), version)

    def _value(self, document: Any, where: str) -> Any:
        try:
            return self._serializer.from_document(document)
        except SerializationError as exc:
            raise SerializationError(f"cannot load {where}: {exc}") from exc

    def _pointer_documents(
        self, pointers: Sequence[ExecutionPointer], field: str = "execution_pointers"
    ) -> list[dict[str, Any]]:
        to_document = self._serializer.to_document
        documents = []
        for index, pointer in enumerate(pointers):
            state = vars(pointer)
            document = {name: state[name] for name, default in _POINTER_DEFAULTS if state[name] != default}
            for name in POINTER_TIMES:
                value = state[name]
                if value is not None:
                    document[name] = _time_text(value, f"{field}[{index}].{name}")
            for name in POINTER_PAYLOADS:
                value = state[name]
                if value is not None:
                    document[name] = to_document(value, f"{field}[{index}].{name}")
            documents.append(document)
        return documents

    def workflow_row(self, workflow: WorkflowInstance, workflow_id: str) -> tuple[Any, ...]:
        """Every column, serialized (a bad value raises here, before anything is written)."""
        return (
            workflow_id,
            workflow.workflow_definition_id,
            workflow.version,
            workflow.description,
            workflow.reference,
            workflow.parent_workflow_id,
            workflow.status,
            stored_time(workflow.next_execution, "next_execution"),
            stored_time(workflow.create_time, "create_time"),
            stored_time(workflow.complete_time, "complete_time"),
            self._payload(workflow.data, "data"),
            Jsonb(self._pointer_documents(workflow.execution_pointers)),
            workflow.trace_context,
            Jsonb(action_documents(workflow.actions, _time_text)) if workflow.actions else None,
        )

    def workflow_from_row(self, row: Sequence[Any]) -> WorkflowInstance:
        workflow = WorkflowInstance()
        (
            workflow.id,
            workflow.workflow_definition_id,
            workflow.version,
            workflow.description,
            workflow.reference,
            workflow.parent_workflow_id,
            workflow.status,
            workflow.next_execution,
            workflow.create_time,
            workflow.complete_time,
            data,
            pointers,
            workflow.trace_context,
            actions,
        ) = row
        where = check_workflow_fields(workflow, _loaded_time)
        workflow.data = self._value(data, f"data of {where}")
        listed = f"execution_pointers of {where}"
        if type(pointers) is not list or any(type(document) is not dict for document in pointers):
            raise SerializationError(f"cannot load {listed}: stored value is not a list of objects")
        workflow.execution_pointers = [
            restore_pointer(document, _pointer_time_from_text, self._value, f"{listed}[{index}]")
            for index, document in enumerate(pointers)
        ]
        workflow.actions = restore_actions(actions, _pointer_time_from_text, where)
        return workflow

    def archived_pointers(self, pointers: Sequence[ExecutionPointer]) -> list[Jsonb]:
        """Finished pointers leaving their instance, as the rows of its history."""
        return [Jsonb(document) for document in self._pointer_documents(pointers, "archived_pointers")]

    def pointer_from_history(self, document: Any, workflow_id: str, position: int) -> ExecutionPointer:
        where = f"pointer history of workflow {workflow_id!r}[{position}]"
        if type(document) is not dict:
            raise SerializationError(f"cannot load {where}: stored value is not an object")
        return restore_pointer(document, _pointer_time_from_text, self._value, where)

    def event_row(self, event: Event, event_id: str) -> tuple[Any, ...]:
        return (
            event_id,
            event.event_name,
            event_key_text(event.event_key),
            self._payload(event.event_data, "event_data"),
            stored_time(event.event_time, "event_time"),
            bool(event.is_processed),
        )

    def event_from_row(self, row: Sequence[Any]) -> Event:
        event = Event()
        event.id, event.event_name, event.event_key, data, event_time, event.is_processed = row
        event.event_data = self._value(data, f"event_data of event {event.id!r}")
        event.event_time = _loaded_time(event_time, f"event {event.id!r} event_time")
        return event


def subscription_row(subscription: EventSubscription, subscription_id: str) -> tuple[Any, ...]:
    return subscription_columns(subscription, subscription_id, stored_time)


def subscription_from_row(row: Sequence[Any]) -> EventSubscription:
    return restore_subscription(row, _loaded_time)


def error_row(error: ExecutionError) -> tuple[Any, ...]:
    return error_columns(error, stored_time)


def error_from_row(row: Sequence[Any]) -> ExecutionError:
    error = ExecutionError()
    error.workflow_id, error.execution_pointer_id, error_time, error.message, error.traceback = row
    error.error_time = _loaded_time(error_time, f"error of workflow {error.workflow_id!r}")
    return error


def summary_from_row(row: Sequence[Any]) -> WorkflowSummary:
    """A `SUMMARY_FIELDS` row; times come back in the session's zone, made UTC."""
    where = f"workflow {row[0]!r}"
    times = [
        _loaded_time(value, f"{where} {name}")
        for name, value in zip(SUMMARY_FIELDS[7:], row[7:], strict=True)
    ]
    return WorkflowSummary(*row[:7], *times)
