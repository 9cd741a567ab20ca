"""Creating execution pointers: the first one, the next after a step, a container's children."""

from __future__ import annotations

from typing import Any

from .definition import WorkflowStep
from .records import ExecutionPointer, new_id

__all__ = ["child_pointer", "compensation_pointer", "genesis_pointer", "new_pointer", "next_pointer"]


def new_pointer(step_id: int, step_name: str | None) -> ExecutionPointer:
    """An active pointer of a step, due now, in no block."""
    pointer = ExecutionPointer()
    pointer.id = new_id()
    pointer.step_id = step_id
    pointer.step_name = step_name
    pointer.active = True
    pointer.status = ExecutionPointer.PENDING
    return pointer


def _new(step: WorkflowStep) -> ExecutionPointer:
    return new_pointer(step.id, step.name)


def genesis_pointer(first_step: WorkflowStep) -> ExecutionPointer:
    """The pointer a new instance starts with, at the definition's first step."""
    return _new(first_step)


def next_pointer(predecessor: ExecutionPointer, step: WorkflowStep) -> ExecutionPointer:
    """The pointer for the step an outcome leads to: same scope, same context item."""
    pointer = _new(step)
    pointer.predecessor_id = predecessor.id
    pointer.context_item = predecessor.context_item
    pointer.scope = list(predecessor.scope)
    return pointer


def child_pointer(container: ExecutionPointer, step: WorkflowStep, item: Any) -> ExecutionPointer:
    """A pointer inside a container's branch; a None item inherits the container's item."""
    pointer = _new(step)
    pointer.predecessor_id = container.id
    pointer.context_item = container.context_item if item is None else item
    pointer.scope = [container.id, *container.scope]
    container.children.append(pointer.id)
    return pointer


def compensation_pointer(
    compensated: ExecutionPointer, step: WorkflowStep, predecessor: ExecutionPointer
) -> ExecutionPointer:
    """The pointer undoing `compensated`; it runs after `predecessor` (the failure or the
    previous compensation), in the compensated step's scope and with its item."""
    pointer = _new(step)
    pointer.predecessor_id = predecessor.id
    pointer.context_item = compensated.context_item
    pointer.scope = list(compensated.scope)
    return pointer
