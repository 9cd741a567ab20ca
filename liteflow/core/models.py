"""The original's ``liteflow.core.models`` (0.3.1 code does ``from liteflow.core.models import *``).

Re-exports only: the records live in `records`, steps and results in `step`, definitions in
`definition`, `Workflow` in `workflow`. The engine imports those modules, never this one, so
this module can gather them without import cycles. The original's ``WorkflowExecutorResult``
was the engine's internal bookkeeping and has no counterpart here.
"""

from __future__ import annotations

from .definition import IOMapping, StepOutcome, WorkflowDefinition, WorkflowStep
from .records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowInstance,
    event_key_text,
    new_id,
)
from .step import ExecutionResult, StepBody, StepExecutionContext
from .workflow import Workflow

__all__ = [
    "StepOutcome",
    "ExecutionResult",
    "ExecutionPointer",
    "WorkflowStep",
    "IOMapping",
    "WorkflowDefinition",
    "StepBody",
    "StepExecutionContext",
    "WorkflowInstance",
    "Event",
    "ExecutionError",
    "EventSubscription",
    "Workflow",
    "event_key_text",
    "new_id",
]
