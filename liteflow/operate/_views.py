"""Instances, their steps, errors and history as JSON-able data: what the command line prints
with ``--json`` and what the dashboard shows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from liteflow.core.definition import WorkflowDefinition
from liteflow.core.errors import InvalidArgumentError
from liteflow.core.queries import WorkflowSummary
from liteflow.core.records import (
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowAction,
    WorkflowInstance,
)
from liteflow.core.repair import STATUS_NAMES

from ._documents import shown

__all__ = [
    "POINTER_STATUS_NAMES",
    "STATUS_NAMES",
    "instance_view",
    "iso",
    "parse_status",
    "pointer_state",
    "step_label",
    "summary_view",
]

POINTER_STATUS_NAMES = {
    ExecutionPointer.PENDING: "pending",
    ExecutionPointer.RUNNING: "running",
    ExecutionPointer.COMPLETE: "complete",
    ExecutionPointer.SLEEPING: "sleeping",
    ExecutionPointer.WAITING: "waiting",
    ExecutionPointer.FAILED: "failed",
    ExecutionPointer.COMPENSATED: "compensated",
    ExecutionPointer.CANCELLED: "cancelled",
    ExecutionPointer.PENDING_PREDECESSOR: "pending",
    ExecutionPointer.SKIPPED: "skipped",
}


def parse_status(text: str) -> int:
    """A workflow status from its name (any case) or number."""
    for status, name in STATUS_NAMES.items():
        if text.strip().lower() in (name, str(status)):
            return status
    raise InvalidArgumentError(f"unknown status {text!r}: use one of {', '.join(STATUS_NAMES.values())}")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text of a time for JSON views, None kept as None."""
    return None if moment is None else moment.isoformat()


def summary_view(summary: WorkflowSummary | WorkflowInstance) -> dict[str, Any]:
    """The JSON-able fields of an instance that lists show (status by name)."""
    return {
        "id": summary.id,
        "definition": summary.workflow_definition_id,
        "version": summary.version,
        "status": STATUS_NAMES.get(summary.status, str(summary.status)),
        "reference": summary.reference,
        "description": summary.description,
        "parent_workflow_id": summary.parent_workflow_id,
        "create_time": iso(summary.create_time),
        "complete_time": iso(summary.complete_time),
        "next_execution": iso(summary.next_execution),
    }


def step_label(pointer: ExecutionPointer, definition: WorkflowDefinition | None) -> str:
    """A pointer's step name: stored with the pointer, else from the definition, else "step N"."""
    if pointer.step_name:
        return pointer.step_name
    step = None if definition is None else definition.find_step(pointer.step_id)
    return step.display_name if step is not None else f"step {pointer.step_id}"


def pointer_state(pointer: ExecutionPointer) -> str:
    """What a pointer is doing, in a word: waiting and sleeping wait; a failed one that has not
    ended waits to run again."""
    if pointer.status == ExecutionPointer.WAITING and pointer.event_published and pointer.end_time is None:
        return "running"
    return POINTER_STATUS_NAMES.get(pointer.status, str(pointer.status))


def _waiting_for(pointer: ExecutionPointer) -> str | None:
    if pointer.end_time is not None:
        return None
    if pointer.status == ExecutionPointer.WAITING and not pointer.event_published:
        timeout = f" (until {iso(pointer.sleep_until)})" if pointer.sleep_until else ""
        return f"event {pointer.event_name} / {pointer.event_key}{timeout}"
    if pointer.sleep_until is not None:
        what = "retry" if pointer.status == ExecutionPointer.FAILED else "wake"
        return f"{what} at {iso(pointer.sleep_until)}"
    if pointer.status == ExecutionPointer.PENDING_PREDECESSOR:
        return f"pointer {pointer.predecessor_id} to finish"
    if pointer.children and pointer.status == ExecutionPointer.RUNNING:
        return "its block to finish"
    return None


def _pointer_view(pointer: ExecutionPointer, definition: WorkflowDefinition | None) -> dict[str, Any]:
    return {
        "pointer_id": pointer.id,
        "step_id": pointer.step_id,
        "step": step_label(pointer, definition),
        "status": pointer_state(pointer),
        "start_time": iso(pointer.start_time),
        "end_time": iso(pointer.end_time),
        "attempts": pointer.retry_count,
        "outcome": shown(pointer.outcome),
        "item": shown(pointer.context_item),
        "waiting_for": _waiting_for(pointer),
        "children": [],
    }


def _timeline(
    pointers: list[ExecutionPointer], definition: WorkflowDefinition | None
) -> list[dict[str, Any]]:
    """The pointers as a tree: each under the container whose block it runs in, in the order made."""
    views = {pointer.id: _pointer_view(pointer, definition) for pointer in pointers}
    roots: list[dict[str, Any]] = []
    for pointer in pointers:
        parent = views.get(pointer.scope[0]) if pointer.scope else None
        (roots if parent is None else parent["children"]).append(views[pointer.id])
    return roots


def _action_view(action: WorkflowAction) -> dict[str, Any]:
    return {
        "action": action.action,
        "time": iso(action.time),
        "actor": action.actor,
        "step_id": action.step_id,
        "other_workflow_id": action.other_workflow_id,
        "detail": action.detail,
    }


def _error_view(error: ExecutionError, instance: WorkflowInstance) -> dict[str, Any]:
    pointer = instance.find_pointer(error.execution_pointer_id) if error.execution_pointer_id else None
    return {
        "time": iso(error.error_time),
        "pointer_id": error.execution_pointer_id or None,
        "step_id": None if pointer is None else pointer.step_id,
        "message": error.message,
        "traceback": error.traceback,
    }


def _subscription_view(subscription: EventSubscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "event_name": subscription.event_name,
        "event_key": subscription.event_key,
        "subscribe_as_of": iso(subscription.subscribe_as_of),
        "step_id": subscription.step_id,
        "pointer_id": subscription.execution_pointer_id,
    }


def instance_view(
    instance: WorkflowInstance,
    definition: WorkflowDefinition | None,
    errors: list[ExecutionError],
    subscriptions: list[EventSubscription],
    history: Sequence[ExecutionPointer] = (),
    *,
    more_history: bool = False,
) -> dict[str, Any]:
    """`history`: pointers that left the instance (oldest first), shown before its own."""
    return {
        **summary_view(instance),
        "data": shown(instance.data),
        "steps": _timeline([*history, *instance.execution_pointers], definition),
        "archived_steps": len(history),
        "more_archived_steps": more_history,
        "subscriptions": [_subscription_view(subscription) for subscription in subscriptions],
        "errors": [_error_view(error, instance) for error in errors],
        "actions": [_action_view(action) for action in instance.actions],
        "definition_known": definition is not None,
    }
