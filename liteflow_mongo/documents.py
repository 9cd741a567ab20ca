"""What instances, subscriptions, events and errors look like as MongoDB documents.

Times are BSON datetimes, so they can be queried, indexed and read in any MongoDB tool. BSON
keeps milliseconds only, so every document with times also has a ``micros`` object holding,
per time field, the microseconds past the stored millisecond (0-999): times round-trip exactly
and queries compare them exactly (see `time_filter`).

User values (workflow data, step persistence data, context items, outcomes, event data) go
through the project's JSON-safe `Serializer`: plain subdocuments, never pickle.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from liteflow.core.clock import to_utc
from liteflow.core.errors import InvalidArgumentError, SerializationError
from liteflow.core.queries import SUMMARY_FIELDS, WorkflowSummary
from liteflow.core.record_schema import (
    ACTION_TIME,
    POINTER_ID_LISTS,
    POINTER_PAYLOADS,
    POINTER_PLAIN,
    POINTER_TIMES,
    WORKFLOW_PLAIN,
    action_documents,
    check_plain,
    restore_actions,
    restore_pointer,
)
from liteflow.core.records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowAction,
    WorkflowInstance,
)
from liteflow.core.serialization import Serializer

__all__ = [
    "MICROS",
    "time_filter",
    "time_sort",
    "SUMMARY_PROJECTION",
    "summary_from_document",
    "workflow_document",
    "workflow_from_document",
    "subscription_document",
    "subscription_from_document",
    "event_document",
    "event_from_document",
    "error_document",
    "error_from_document",
    "ids_of",
    "pointer_document",
    "pointer_from_document",
]

MICROS = "micros"

# For `field <op> when`: the micros that put a document of the boundary millisecond outside.
_OUTSIDE = {"$lt": "$gte", "$lte": "$gt", "$gt": "$lte", "$gte": "$lt"}


def _split(value: datetime, what: str) -> tuple[datetime, int]:
    """The millisecond BSON stores and the microseconds past it."""
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{what} must be a datetime, got {type(value).__name__}: {value!r}")
    exact = to_utc(value)
    extra = exact.microsecond % 1000
    return exact - timedelta(microseconds=extra), extra


def _put_times(document: dict[str, Any], times: dict[str, datetime | None]) -> None:
    micros: dict[str, int] = {}
    for name, value in times.items():
        if value is None:
            document[name], micros[name] = None, 0
        else:
            document[name], micros[name] = _split(value, name)
    document[MICROS] = micros


def _get_time(document: dict[str, Any], name: str) -> datetime | None:
    value: datetime | None = document.get(name)
    if value is None:
        return None
    return value + timedelta(microseconds=document.get(MICROS, {}).get(name, 0))


def time_filter(name: str, op: str, when: datetime, *, or_unset: bool = False) -> dict[str, Any]:
    """A filter for ``name <op> when`` (op: $lt, $lte, $gt, $gte), exact to the microsecond.

    The range on the datetime itself can use an index; the ``$nor`` drops documents of the
    boundary millisecond whose microseconds fall outside. ``$type: "date"`` keeps unset times
    out (MongoDB does so anyway; mongoeco matches null against ``$lt``); `or_unset` lets them in.
    """
    base, extra = _split(when, name)
    wide = "$lte" if op in ("$lt", "$lte") else "$gte"
    condition = {
        name: {"$type": "date", wide: base},
        "$nor": [{name: base, f"{MICROS}.{name}": {_OUTSIDE[op]: extra}}],
    }
    return {"$or": [{name: None}, condition]} if or_unset else condition


def time_sort(name: str) -> list[tuple[str, int]]:
    """Oldest first, exact to the microsecond, ties broken by id so paging is stable."""
    return [(name, 1), (f"{MICROS}.{name}", 1), ("_id", 1)]


def _store(serializer: Serializer, value: Any, path: str) -> Any:
    return None if value is None else serializer.to_document(value, path)


def _load(serializer: Serializer, document: Any, where: str) -> Any:
    if document is None:
        return None
    try:
        return serializer.from_document(document)
    except SerializationError as exc:
        raise SerializationError(f"cannot load {where}: {exc}") from exc


def pointer_document(serializer: Serializer, pointer: ExecutionPointer, index: int) -> dict[str, Any]:
    """An execution pointer as stored inside its workflow's document, at `index`."""
    document: dict[str, Any] = {name: getattr(pointer, name) for name in POINTER_PLAIN}
    for name in POINTER_ID_LISTS:
        document[name] = list(getattr(pointer, name))
    for name in POINTER_PAYLOADS:
        document[name] = _store(serializer, getattr(pointer, name), f"execution_pointers[{index}].{name}")
    _put_times(document, {name: getattr(pointer, name) for name in POINTER_TIMES})
    return document


def pointer_from_document(
    serializer: Serializer, document: dict[str, Any], workflow_id: str, index: int
) -> ExecutionPointer:
    """The pointer a stored pointer document holds; raises SerializationError when it is malformed."""
    if type(document) is not dict:
        raise SerializationError(f"cannot load workflow {workflow_id} pointer {index}: not a document")
    where = f"workflow {workflow_id} pointer {index}"
    fields = {name: value for name, value in document.items() if name != MICROS}
    for name in POINTER_TIMES:
        if fields.get(name) is not None:
            if not isinstance(fields[name], datetime) or type(document.get(MICROS, {})) is not dict:
                raise SerializationError(f"cannot load {where} {name}: it is not a time")
            fields[name] = _get_time(document, name)
    return restore_pointer(
        fields, lambda value, _: value, lambda stored, what: _load(serializer, stored, what), where
    )


def _action_documents(actions: list[WorkflowAction]) -> list[dict[str, Any]]:
    documents = action_documents(actions, lambda time, _: time)
    for document in documents:
        _put_times(document, {ACTION_TIME: document[ACTION_TIME]})
    return documents


def _actions_from_documents(documents: Any, workflow_id: str) -> list[WorkflowAction]:
    where = f"workflow {workflow_id}"
    if type(documents) is list and all(type(document) is dict for document in documents):
        documents = [
            {
                **{key: value for key, value in document.items() if key != MICROS},
                ACTION_TIME: _get_time(document, ACTION_TIME),
            }
            for document in documents
        ]
    return restore_actions(documents, _checked_time, where)


def _checked_time(value: Any, where: str) -> datetime | None:
    if value is not None and not isinstance(value, datetime):
        raise SerializationError(f"cannot load {where}: it is not a time")
    return value


def workflow_document(serializer: Serializer, workflow: WorkflowInstance) -> dict[str, Any]:
    """Every stored field of an instance except ``_id``; raises SerializationError before any write."""
    document: dict[str, Any] = {
        "workflow_definition_id": workflow.workflow_definition_id,
        "version": workflow.version,
        "description": workflow.description,
        "reference": workflow.reference,
        "parent_workflow_id": workflow.parent_workflow_id,
        "status": workflow.status,
        "trace_context": workflow.trace_context,
        "actions": _action_documents(workflow.actions),
        "data": _store(serializer, workflow.data, "data"),
        "execution_pointers": [
            pointer_document(serializer, pointer, index)
            for index, pointer in enumerate(workflow.execution_pointers)
        ],
    }
    _put_times(
        document,
        {
            "next_execution": workflow.next_execution,
            "create_time": workflow.create_time,
            "complete_time": workflow.complete_time,
        },
    )
    return document


def workflow_from_document(serializer: Serializer, document: dict[str, Any]) -> WorkflowInstance:
    """The instance a workflow document holds; raises SerializationError when it is malformed."""
    workflow = WorkflowInstance()
    workflow.id = document["_id"]
    workflow.workflow_definition_id = document.get("workflow_definition_id", "")
    workflow.version = document.get("version", 1)
    workflow.description = document.get("description")
    workflow.reference = document.get("reference")
    workflow.parent_workflow_id = document.get("parent_workflow_id")
    workflow.status = document.get("status", WorkflowInstance.RUNNABLE)
    workflow.trace_context = document.get("trace_context")
    workflow.data = _load(serializer, document.get("data"), f"workflow {workflow.id} data")
    workflow.next_execution = _get_time(document, "next_execution")
    workflow.create_time = _get_time(document, "create_time")
    workflow.complete_time = _get_time(document, "complete_time")
    for name, kinds in WORKFLOW_PLAIN.items():
        check_plain("workflow", name, getattr(workflow, name), kinds, f"workflow {workflow.id}")
    workflow.actions = _actions_from_documents(document.get("actions"), workflow.id)
    pointers = document.get("execution_pointers") or []
    if type(pointers) is not list:
        raise SerializationError(f"cannot load workflow {workflow.id}: its pointers are not a list")
    workflow.execution_pointers = [
        pointer_from_document(serializer, pointer, workflow.id, index)
        for index, pointer in enumerate(pointers)
    ]
    return workflow


#: The fields `summary_from_document` reads (a projection: no data, pointers or actions).
SUMMARY_PROJECTION = {name: 1 for name in (*SUMMARY_FIELDS[1:], MICROS)}


def summary_from_document(document: dict[str, Any]) -> WorkflowSummary:
    """A workflow document's summary (absent fields take a new instance's values)."""
    new = WorkflowInstance()
    values = {name: document.get(name, getattr(new, name)) for name in SUMMARY_FIELDS[1:]}
    for name in ("create_time", "complete_time", "next_execution"):
        values[name] = _get_time(document, name)
    return WorkflowSummary(id=document["_id"], **values)


def subscription_document(subscription: EventSubscription) -> dict[str, Any]:
    """A subscription as stored."""
    document: dict[str, Any] = {
        "_id": subscription.id,
        "workflow_id": subscription.workflow_id,
        "step_id": subscription.step_id,
        "execution_pointer_id": subscription.execution_pointer_id,
        "event_name": subscription.event_name,
        "event_key": subscription.event_key,
        "terminated": False,
    }
    _put_times(document, {"subscribe_as_of": subscription.subscribe_as_of})
    return document


def subscription_from_document(document: dict[str, Any]) -> EventSubscription:
    """The subscription a stored document holds."""
    subscription = EventSubscription()
    subscription.id = document["_id"]
    subscription.workflow_id = document.get("workflow_id", "")
    subscription.step_id = document.get("step_id", 0)
    subscription.execution_pointer_id = document.get("execution_pointer_id")
    subscription.event_name = document.get("event_name", "")
    subscription.event_key = document.get("event_key")
    subscription.subscribe_as_of = _get_time(document, "subscribe_as_of")
    return subscription


def event_document(serializer: Serializer, event: Event, event_id: str) -> dict[str, Any]:
    """An event as stored, its data encoded by `serializer`."""
    document: dict[str, Any] = {
        "_id": event_id,
        "event_name": event.event_name,
        "event_key": event.event_key,
        "event_data": _store(serializer, event.event_data, "event_data"),
        "is_processed": bool(event.is_processed),
    }
    _put_times(document, {"event_time": event.event_time})
    return document


def event_from_document(serializer: Serializer, document: dict[str, Any]) -> Event:
    """The event a stored document holds, its data decoded by `serializer`."""
    event = Event()
    event.id = document["_id"]
    event.event_name = document.get("event_name", "")
    event.event_key = document.get("event_key")
    event.event_data = _load(serializer, document.get("event_data"), f"event {event.id} data")
    event.event_time = _get_time(document, "event_time")
    event.is_processed = bool(document.get("is_processed", False))
    return event


def error_document(error: ExecutionError, error_id: str) -> dict[str, Any]:
    """An execution error as stored, under `error_id`."""
    document: dict[str, Any] = {
        "_id": error_id,
        "workflow_id": error.workflow_id,
        "execution_pointer_id": error.execution_pointer_id,
        "message": error.message,
        "traceback": error.traceback,
    }
    _put_times(document, {"error_time": error.error_time})
    return document


def error_from_document(document: dict[str, Any]) -> ExecutionError:
    """The execution error a stored document holds."""
    error = ExecutionError()
    error.workflow_id = document.get("workflow_id", "")
    error.execution_pointer_id = document.get("execution_pointer_id", "")
    error.message = document.get("message", "")
    error.traceback = document.get("traceback")
    error.error_time = _get_time(document, "error_time")
    return error


def ids_of(documents: Iterable[dict[str, Any]]) -> list[str]:
    """The ids of the documents a query returned."""
    return [document["_id"] for document in documents]
