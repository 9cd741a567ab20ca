"""The fluent builder a workflow's `build` method uses to compose its steps."""

from ._step import ParallelStepBuilder, StepBuilder, WhenStepBuilder
from ._workflow import WorkflowBuilder

__all__ = ["ParallelStepBuilder", "StepBuilder", "WhenStepBuilder", "WorkflowBuilder"]
