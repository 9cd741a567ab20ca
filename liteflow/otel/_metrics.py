"""Metrics: counters of workflows and steps, and a histogram of step durations."""

from __future__ import annotations

from opentelemetry import metrics

from liteflow.core.lifecycle import LifecycleEvent, WorkflowCompleted, WorkflowStarted, WorkflowTerminated

__all__ = ["DefinitionInstruments", "Instruments"]

_DEFINITION = "liteflow.workflow.definition"


class DefinitionInstruments:
    """The instruments with one definition's attributes bound."""

    def __init__(self, instruments: Instruments, definition_id: str) -> None:
        self._instruments = instruments
        self.attributes = {_DEFINITION: definition_id}

    def step_ran(self, seconds: float, failed: bool) -> None:
        instruments = self._instruments
        instruments.steps_run.add(1, self.attributes)
        if failed:
            instruments.steps_failed.add(1, self.attributes)
        instruments.step_duration.record(seconds, self.attributes)


class Instruments:
    """Every instrument LiteFlow reports, made on the application's meter."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.workflows_started = meter.create_counter(
            "liteflow.workflows.started", unit="{workflow}", description="Workflow instances started"
        )
        self.workflows_completed = meter.create_counter(
            "liteflow.workflows.completed", unit="{workflow}", description="Workflow instances completed"
        )
        self.workflows_terminated = meter.create_counter(
            "liteflow.workflows.terminated", unit="{workflow}", description="Workflow instances terminated"
        )
        self.steps_run = meter.create_counter(
            "liteflow.steps.run", unit="{step}", description="Step runs, retries included"
        )
        self.steps_failed = meter.create_counter(
            "liteflow.steps.failed", unit="{step}", description="Step runs that raised"
        )
        self.step_duration = meter.create_histogram(
            "liteflow.step.duration", unit="s", description="How long a step run took"
        )
        self._counted: dict[type[LifecycleEvent], metrics.Counter] = {
            WorkflowStarted: self.workflows_started,
            WorkflowCompleted: self.workflows_completed,
            WorkflowTerminated: self.workflows_terminated,
        }
        self._by_definition: dict[str, DefinitionInstruments] = {}

    @property
    def counted_kinds(self) -> tuple[type[LifecycleEvent], ...]:
        return tuple(self._counted)

    def for_definition(self, definition_id: str) -> DefinitionInstruments:
        bound = self._by_definition.get(definition_id)
        if bound is None:
            bound = self._by_definition[definition_id] = DefinitionInstruments(self, definition_id)
        return bound

    def count_workflow(self, event: LifecycleEvent) -> None:
        """Lifecycle event handler (this host's events only): the workflow counters."""
        counter = self._counted.get(type(event))
        if counter is not None:
            counter.add(1, self.for_definition(event.workflow_definition_id).attributes)
