"""The step functions a compiled program runs: each leaves its entry in the trace."""

from __future__ import annotations

from collections.abc import Callable

from liteflow.core import ExecutionResult, StepExecutionContext, WorkflowInstance

from . import tracing

__all__ = ["StepFn", "Steps"]

StepFn = Callable[[StepExecutionContext], ExecutionResult | None]


def silent(context: StepExecutionContext) -> None:
    """The first step of a block that starts with a primitive (the builder wants a body first)."""


class Steps:
    """Makes the step functions of one program.

    A run past `max_entries` entries is running away (a loop the engine does not leave): the
    next step to record terminates the workflow from inside, as `end_workflow` completes it,
    so the loop stops loading the host even though it never waits for a lock.
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries

    def _record(self, context: StepExecutionContext, label: str) -> None:
        data = context.workflow.data
        tracing.record(data, label, context.item)
        if len(data["trace"]) > self._max_entries:
            context.workflow.status = WorkflowInstance.TERMINATED

    def recording(self, label: str) -> StepFn:
        def step(context: StepExecutionContext) -> None:
            self._record(context, label)

        return _named(step, label)

    def failing(self, label: str, fails: int) -> StepFn:
        """Records every run; raises on the first `fails` runs of this label for this item."""

        def step(context: StepExecutionContext) -> None:
            run = tracing.runs(context.workflow.data, label, context.item)
            self._record(context, label)
            if run < fails:
                raise RuntimeError(f"{label} fails on run {run}")

        return _named(step, label)

    def sleeping(self, label: str) -> StepFn:
        """Sleeps zero seconds, then records."""

        def step(context: StepExecutionContext) -> ExecutionResult | None:
            if context.persistence_data is None:
                return ExecutionResult.sleep(0, {"slept": True})
            self._record(context, label)
            return None

        return _named(step, label)

    def outcome(self, label: str, value: int) -> StepFn:
        def step(context: StepExecutionContext) -> ExecutionResult:
            self._record(context, label)
            return ExecutionResult.outcome(value)

        return _named(step, label)

    def loop_entry(self, label: str) -> StepFn:
        """Records entering a while loop and starts counting its passes."""

        def step(context: StepExecutionContext) -> None:
            self._record(context, label)
            tracing.enter_loop(context.workflow.data, label, context.item)

        return _named(step, f"{label}-entry")

    def loop_pass(self, label: str) -> StepFn:
        """The first step of each pass of a while loop: counts and records the pass."""

        def step(context: StepExecutionContext) -> None:
            tracing.next_loop_pass(context.workflow.data, label, context.item)
            self._record(context, label)

        return _named(step, f"{label}-pass")


def _named(step: StepFn, name: str) -> StepFn:
    step.__qualname__ = name
    return step
