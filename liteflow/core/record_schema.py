"""Which fields of a workflow instance and of its execution pointers are stored, and as what.

One definition for every store, so a field added to the models is kept by all of them or
by none: every field of `WorkflowInstance` and `ExecutionPointer` must be classified here
(importing this module fails otherwise). Loading checks each stored field's type, so a
tampered record fails to load with a `SerializationError` naming the field, instead of a
`TypeError` later in the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .errors import SerializationError
from .records import ExecutionPointer, WorkflowInstance

__all__ = [
    "POINTER_ID_LISTS",
    "POINTER_PAYLOADS",
    "POINTER_PLAIN",
    "POINTER_TIMES",
    "WORKFLOW_PAYLOADS",
    "WORKFLOW_PLAIN",
    "WORKFLOW_TIMES",
    "check_plain",
    "restore_pointer",
]

_TEXT: tuple[type, ...] = (str,)
_OPTIONAL_TEXT: tuple[type, ...] = (str, type(None))
_INT: tuple[type, ...] = (int,)
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
_WORKFLOW_POINTERS = "execution_pointers"

_STATUS_RANGES = {
    "pointer": range(ExecutionPointer.PENDING, ExecutionPointer.PENDING_PREDECESSOR + 1),
    "workflow": range(WorkflowInstance.RUNNABLE, WorkflowInstance.TERMINATED + 1),
}


def _check_complete() -> None:
    pointer = set(POINTER_PLAIN) | set(POINTER_ID_LISTS) | set(POINTER_TIMES) | set(POINTER_PAYLOADS)
    workflow = set(WORKFLOW_PLAIN) | set(WORKFLOW_TIMES) | set(WORKFLOW_PAYLOADS) | {_WORKFLOW_POINTERS}
    for model, classified in ((ExecutionPointer(), pointer), (WorkflowInstance(), workflow)):
        fields = set(vars(model))
        if fields != classified:
            raise RuntimeError(
                f"record_schema does not match {type(model).__name__}: unclassified "
                f"{sorted(fields - classified)}, gone {sorted(classified - fields)}"
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
