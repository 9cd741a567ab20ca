"""Lifecycle events: what happened to a workflow, told to handlers after it was stored.

Each is a frozen dataclass deriving from `LifecycleEvent`. A host emits an event only once
the pass (or the start, or the status change) that produced it was written, so a handler
never hears of a step whose result was discarded. Subscribe with
``host.on_lifecycle_event(handler)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .records import WorkflowInstance

__all__ = [
    "LifecycleEvent",
    "StepCompleted",
    "StepEvent",
    "StepSkipped",
    "StepStarted",
    "WorkflowCompleted",
    "WorkflowError",
    "WorkflowForked",
    "WorkflowResumed",
    "WorkflowRetried",
    "WorkflowStarted",
    "WorkflowSuspended",
    "WorkflowTerminated",
    "instance_fields",
    "workflow_event",
]


@dataclass(frozen=True)
class LifecycleEvent:
    """Which instance (of which definition and version) and when (aware UTC, host clock)."""

    workflow_instance_id: str
    workflow_definition_id: str
    version: int
    reference: str | None
    event_time: datetime


@dataclass(frozen=True)
class WorkflowStarted(LifecycleEvent):
    """`start_workflow` stored a new instance."""


@dataclass(frozen=True)
class WorkflowResumed(LifecycleEvent):
    """`resume_workflow` made a suspended instance runnable again."""


@dataclass(frozen=True)
class WorkflowRetried(WorkflowResumed):
    """`retry_workflow` made a suspended or terminated instance runnable again, from its failed
    step or from a step named by `step_id` (None: every failed step)."""

    step_id: int | None
    actor: str | None


@dataclass(frozen=True)
class WorkflowForked(WorkflowStarted):
    """`fork_workflow` stored this new instance, starting at `step_id` with the data of
    `source_workflow_id`."""

    source_workflow_id: str
    step_id: int
    actor: str | None


@dataclass(frozen=True)
class WorkflowSuspended(LifecycleEvent):
    """The instance was suspended: by `suspend_workflow`, a step's error behaviour, or the engine."""


@dataclass(frozen=True)
class WorkflowCompleted(LifecycleEvent):
    """Every step of the instance finished."""


@dataclass(frozen=True)
class WorkflowTerminated(LifecycleEvent):
    """The instance was ended for good: by `terminate_workflow` or a step's error behaviour."""


@dataclass(frozen=True)
class StepEvent(LifecycleEvent):
    """An event about one execution pointer (one execution of a step)."""

    execution_pointer_id: str
    step_id: int
    step_name: str | None


@dataclass(frozen=True)
class StepStarted(StepEvent):
    """The step began running: first run, or again after a sleep, a wait or a failure."""


@dataclass(frozen=True)
class StepCompleted(StepEvent):
    """The step finished and the flow moves on from it."""


@dataclass(frozen=True)
class StepSkipped(StepEvent):
    """`skip_step` marked the failed step complete without running it; the flow moves on."""

    actor: str | None


@dataclass(frozen=True)
class WorkflowError(StepEvent):
    """A step raised; its error behaviour (retry, suspend, terminate, compensate) follows."""

    error_type: str
    message: str


def instance_fields(workflow: WorkflowInstance, now: datetime) -> tuple[str, str, int, str | None, datetime]:
    """The fields every event about `workflow` starts with, in order."""
    return workflow.id, workflow.workflow_definition_id, workflow.version, workflow.reference, now


EventT = TypeVar("EventT", bound=LifecycleEvent)


def workflow_event(kind: type[EventT], workflow: WorkflowInstance, now: datetime) -> EventT:
    """An event of `kind` (one without step fields) about `workflow`."""
    return kind(*instance_fields(workflow, now))
