"""Which fields of a workflow instance and of its execution pointers are stored, and as what.

One definition for every store, so a field added to the models is kept by all of them or
by none: every field of `WorkflowInstance` and `ExecutionPointer` must be classified here
(importing this module fails otherwise). Loading checks each stored field's type, so a
tampered record fails to load with a `SerializationError` naming the field, instead of a
`TypeError` later in the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from .errors import SerializationError
from .records import (
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowAction,
    WorkflowInstance,
    event_key_text,
)

__all__ = [
    "ACTION_PLAIN",
    "ACTION_TIME",
    "POINTER_ID_LISTS",
    "POINTER_PAYLOADS",
    "POINTER_PLAIN",
    "POINTER_TIMES",
    "WORKFLOW_PAYLOADS",
    "WORKFLOW_PLAIN",
    "WORKFLOW_ACTIONS",
    "WORKFLOW_TIMES",
    "check_plain",
    "check_workflow_fields",
    "action_documents",
    "error_columns",
    "restore_actions",
    "restore_pointer",
    "restore_subscription",
    "subscription_columns",
]

_TEXT: tuple[type, ...] = (str,)
_OPTIONAL_TEXT: tuple[type, ...] = (str, type(None))
_INT: tuple[type, ...] = (int,)
_OPTIONAL_INT: tuple[type, ...] = (int, type(None))
_BOOL: tuple[type, ...] = (bool,)

#: Plain pointer fields and the types a stored value may have.
POINTER_PLAIN: Mapping[str, tuple[type, ...]] = {
    "id": _TEXT,
    "step_id": _INT,
    "active": _BOOL,
    "event_name": _OPTIONAL_TEXT,
    "event_key": _OPTIONAL_TEXT,
    "event_published": _BOOL,
    "predecessor_id": _OPTIONAL_TEXT,
    "status": _INT,
    "retry_count": _INT,
    "step_name": _OPTIONAL_TEXT,
}
#: Pointer fields holding lists of pointer ids.
POINTER_ID_LISTS = ("children", "scope")
#: Pointer fields holding times (aware UTC datetimes, or None).
POINTER_TIMES = ("start_time", "end_time", "sleep_until")
#: Pointer fields holding user values, stored through the serializer.
POINTER_PAYLOADS = ("persistence_data", "event_data", "context_item", "outcome")

WORKFLOW_PLAIN: Mapping[str, tuple[type, ...]] = {
    "id": _TEXT,
    "workflow_definition_id": _TEXT,
    "version": _INT,
    "description": _OPTIONAL_TEXT,
    "reference": _OPTIONAL_TEXT,
    "parent_workflow_id": _OPTIONAL_TEXT,
    "status": _INT,
    "trace_context": _OPTIONAL_TEXT,
}
WORKFLOW_TIMES = ("next_execution", "create_time", "complete_time")
WORKFLOW_PAYLOADS = ("data",)
#: The instance field holding what operators did to it: `WorkflowAction`s, stored as a list of
#: documents with the plain fields below and the time as the store writes times.
WORKFLOW_ACTIONS = "actions"
ACTION_PLAIN: Mapping[str, tuple[type, ...]] = {
    "action": _TEXT,
    "actor": _OPTIONAL_TEXT,
    "step_id": _OPTIONAL_INT,
    "other_workflow_id": _OPTIONAL_TEXT,
    "detail": _OPTIONAL_TEXT,
}
ACTION_TIME = "time"
_WORKFLOW_POINTERS = "execution_pointers"

_STATUS_RANGES = {
    "pointer": range(ExecutionPointer.PENDING, ExecutionPointer.SKIPPED + 1),
    "workflow": range(WorkflowInstance.RUNNABLE, WorkflowInstance.TERMINATED + 1),
}


def _check_complete() -> None:
    pointer = set(POINTER_PLAIN) | set(POINTER_ID_LISTS) | set(POINTER_TIMES) | set(POINTER_PAYLOADS)
    workflow = set(WORKFLOW_PLAIN) | set(WORKFLOW_TIMES) | set(WORKFLOW_PAYLOADS)
    workflow |= {WORKFLOW_ACTIONS, _WORKFLOW_POINTERS}
    action = set(ACTION_PLAIN) | {ACTION_TIME}
    for model, found, classified in (
        (ExecutionPointer, set(vars(ExecutionPointer())), pointer),
        (WorkflowInstance, set(vars(WorkflowInstance())), workflow),
        (WorkflowAction, {item.name for item in fields(WorkflowAction)}, action),
    ):
        if found != classified:
            raise RuntimeError(
                f"record_schema does not match {model.__name__}: unclassified "
                f"{sorted(found - classified)}, gone {sorted(classified - found)}"
            )


_check_complete()


def check_plain(record: str, name: str, value: Any, kinds: tuple[type, ...], where: str) -> Any:
    """`value` if it has one of `kinds` (a bool is not an int here), else a SerializationError."""
    if type(value) not in kinds:
        expected = " or ".join("null" if kind is type(None) else kind.__name__ for kind in kinds)
        raise SerializationError(
            f"cannot load {where}: field {name!r} holds {type(value).__name__}, expected {expected}"
        )
    if name == "status" and value not in _STATUS_RANGES[record]:
        raise SerializationError(f"cannot load {where}: field 'status' holds unknown status {value}")
    return value


def check_workflow_fields(
    workflow: WorkflowInstance, load_time: Callable[[Any, str], datetime | None]
) -> str:
    """Type-check an instance's plain fields as a row loaded them, and turn its times
    (`WORKFLOW_TIMES`, holding the store's own form) back into datetimes with
    `load_time(stored, where)`; returns how messages name the instance."""
    where = f"workflow {workflow.id!r}"
    for name, kinds in WORKFLOW_PLAIN.items():
        check_plain("workflow", name, getattr(workflow, name), kinds, where)
    for name in WORKFLOW_TIMES:
        setattr(workflow, name, load_time(getattr(workflow, name), f"{where} {name}"))
    return where


def restore_pointer(
    document: Mapping[str, Any],
    load_time: Callable[[Any, str], datetime | None],
    load_payload: Callable[[Any, str], Any],
    where: str,
) -> ExecutionPointer:
    """A pointer from its stored fields; a missing field takes the model's default.

    `load_time(stored, where)` and `load_payload(stored, where)` turn a store's own form of
    a time or a user value back into Python.
    """
    unknown = set(document) - set(vars(ExecutionPointer()))
    if unknown:
        raise SerializationError(f"cannot load {where}: unknown fields {sorted(unknown)}")
    pointer = ExecutionPointer()
    state = vars(pointer)
    for name, kinds in POINTER_PLAIN.items():
        if name in document:
            state[name] = check_plain("pointer", name, document[name], kinds, where)
    for name in POINTER_ID_LISTS:
        ids = document.get(name) or []
        if type(ids) is not list or any(type(item) is not str for item in ids):
            raise SerializationError(f"cannot load {where}: field {name!r} is not a list of ids")
        state[name] = list(ids)
    for name in POINTER_TIMES:
        state[name] = load_time(document.get(name), f"{where} {name}")
    for name in POINTER_PAYLOADS:
        stored = document.get(name)
        state[name] = None if stored is None else load_payload(stored, f"{where} {name}")
    return pointer


def action_documents(
    actions: Sequence[WorkflowAction], dump_time: Callable[[datetime, str], Any]
) -> list[dict[str, Any]]:
    """The stored form of an instance's actions; `dump_time(time, what)` is the store's form of a time."""
    documents = []
    for index, action in enumerate(actions):
        document = {name: getattr(action, name) for name in ACTION_PLAIN}
        document[ACTION_TIME] = dump_time(action.time, f"actions[{index}].{ACTION_TIME}")
        documents.append(document)
    return documents


def restore_actions(
    documents: Any, load_time: Callable[[Any, str], datetime | None], where: str
) -> list[WorkflowAction]:
    """An instance's actions from their stored form (None: none), every field type-checked."""
    if documents is None:
        return []
    if type(documents) is not list or any(type(document) is not dict for document in documents):
        raise SerializationError(f"cannot load {where}: its actions are not a list of objects")
    restored = []
    for index, document in enumerate(documents):
        at = f"{where} actions[{index}]"
        unknown = set(document) - set(ACTION_PLAIN) - {ACTION_TIME}
        if unknown:
            raise SerializationError(f"cannot load {at}: unknown fields {sorted(unknown)}")
        values = {
            name: check_plain("action", name, document.get(name), kinds, at)
            for name, kinds in ACTION_PLAIN.items()
        }
        time = load_time(document.get(ACTION_TIME), f"{at} {ACTION_TIME}")
        if time is None:
            raise SerializationError(f"cannot load {at}: it has no time")
        restored.append(WorkflowAction(time=time, **values))
    return restored


def subscription_columns(
    subscription: EventSubscription, subscription_id: str, dump_time: Callable[[Any, str], Any]
) -> tuple[Any, ...]:
    """A subscription as the SQL stores' columns: id, workflow, step, pointer, event name,
    event key as text, as-of time (`dump_time(time, what)`: the store's form of a time)."""
    return (
        subscription_id,
        subscription.workflow_id,
        subscription.step_id,
        subscription.execution_pointer_id,
        subscription.event_name,
        event_key_text(subscription.event_key),
        dump_time(subscription.subscribe_as_of, "subscribe_as_of"),
    )


def restore_subscription(
    row: Sequence[Any], load_time: Callable[[Any, str], datetime | None]
) -> EventSubscription:
    """A subscription from the columns of `subscription_columns`."""
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
    subscription.subscribe_as_of = load_time(as_of, f"subscription {subscription.id!r} subscribe_as_of")
    return subscription


def error_columns(error: ExecutionError, dump_time: Callable[[Any, str], Any]) -> tuple[Any, ...]:
    """An execution error as the SQL stores' columns: workflow, pointer, time, message, traceback."""
    return (
        error.workflow_id,
        error.execution_pointer_id,
        dump_time(error.error_time, "error_time"),
        error.message,
        error.traceback,
    )
