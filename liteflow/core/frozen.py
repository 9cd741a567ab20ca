"""Instances as the in-memory store keeps them: tuples of their values.

Kept as objects, a stored instance of three steps is about eighteen containers that the
garbage collector walks at every full collection for as long as the instance is stored:
with 50,000 stored instances those walks took more CPU than running the workflows. As tuples
it is one tuple beside its data: CPython stops tracking a tuple that holds no container, and
pointers, times, ids and statuses are plain values.
"""

from __future__ import annotations

from operator import attrgetter, itemgetter
from typing import Any

from .queries import SUMMARY_FIELDS, WorkflowSummary
from .records import ExecutionPointer, WorkflowAction, WorkflowInstance

__all__ = ["FrozenInstance", "freeze", "thaw", "frozen_summary"]

_LISTS = ("actions", "execution_pointers", "children", "scope")
#: Every value of an instance but its data (kept apart: a tuple holding it stays tracked).
_INSTANCE_FIELDS = tuple(name for name in vars(WorkflowInstance()) if name not in (*_LISTS, "data"))
_POINTER_FIELDS = tuple(name for name in vars(ExecutionPointer()) if name not in _LISTS)
_instance_values = attrgetter(*_INSTANCE_FIELDS)
_pointer_values = attrgetter(*_POINTER_FIELDS)
_summary_values = itemgetter(*(_INSTANCE_FIELDS.index(name) for name in SUMMARY_FIELDS))

_FrozenPointer = tuple[tuple[Any, ...], tuple[str, ...], tuple[str, ...]]
#: (the instance's values, its pointers as (values, children, scope), its actions, its data)
FrozenInstance = tuple[tuple[Any, ...], tuple[_FrozenPointer, ...], tuple[WorkflowAction, ...], Any]


def freeze(instance: WorkflowInstance) -> FrozenInstance:
    """A copy of `instance` that shares its `data` (and payloads) and nothing else."""
    pointers = tuple(
        [
            (_pointer_values(pointer), tuple(pointer.children), tuple(pointer.scope))
            for pointer in instance.execution_pointers
        ]
    )
    return (_instance_values(instance), pointers, tuple(instance.actions), instance.data)


def _thaw_pointer(frozen: _FrozenPointer) -> ExecutionPointer:
    values, children, scope = frozen
    pointer = ExecutionPointer.__new__(ExecutionPointer)
    pointer.__dict__.update(zip(_POINTER_FIELDS, values, strict=True))
    pointer.children = list(children)
    pointer.scope = list(scope)
    return pointer


def thaw(frozen: FrozenInstance) -> WorkflowInstance:
    """A new instance from `frozen`, its own to change (its `data` is the stored one)."""
    values, pointers, actions, data = frozen
    instance = WorkflowInstance.__new__(WorkflowInstance)
    instance.__dict__.update(zip(_INSTANCE_FIELDS, values, strict=True))
    instance.data = data
    instance.actions = list(actions)
    instance.execution_pointers = [_thaw_pointer(pointer) for pointer in pointers]
    return instance


def frozen_summary(frozen: FrozenInstance) -> WorkflowSummary:
    """The instance's summary, read without thawing it (what queries over every instance need)."""
    return WorkflowSummary(*_summary_values(frozen[0]))
