"""Metrics: counters of workflows and steps, and a histogram of step durations.

The counters are observable: a step or a workflow adds one to a tally of this process (a
lock and an integer), and the SDK reads the tallies when it collects. A synchronous counter
would cost every step a pass through the SDK's measurement pipeline instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from opentelemetry import metrics

from liteflow.core.lifecycle import LifecycleEvent, WorkflowCompleted, WorkflowStarted, WorkflowTerminated

__all__ = ["DefinitionInstruments", "Instruments"]

_DEFINITION = "liteflow.workflow.definition"


class _Tally:
    """Monotonic counts by definition, read by an observable counter's callback."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, definition_id: str) -> None:
        with self._lock:
            self._counts[definition_id] = self._counts.get(definition_id, 0) + 1

    def observe(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        with self._lock:
            counts = list(self._counts.items())
        return [metrics.Observation(count, {_DEFINITION: definition}) for definition, count in counts]


class DefinitionInstruments:
    """The instruments with one definition's attributes bound."""

    def __init__(self, instruments: Instruments, definition_id: str) -> None:
        self._instruments = instruments
        self._definition_id = definition_id
        self.attributes = {_DEFINITION: definition_id}

    def step_ran(self, seconds: float, failed: bool) -> None:
        instruments = self._instruments
        instruments.steps_run.add(self._definition_id)
        if failed:
            instruments.steps_failed.add(self._definition_id)
        instruments.step_duration.record(seconds, self.attributes)


class Instruments:
    """Every instrument LiteFlow reports, made on the application's meter."""

    def __init__(self, meter: metrics.Meter) -> None:
        self.workflows_started = self._counter(
            meter, "liteflow.workflows.started", "{workflow}", "Workflow instances started"
        )
        self.workflows_completed = self._counter(
            meter, "liteflow.workflows.completed", "{workflow}", "Workflow instances completed"
        )
        self.workflows_terminated = self._counter(
            meter, "liteflow.workflows.terminated", "{workflow}", "Workflow instances terminated"
        )
        self.steps_run = self._counter(meter, "liteflow.steps.run", "{step}", "Step runs, retries included")
        self.steps_failed = self._counter(meter, "liteflow.steps.failed", "{step}", "Step runs that raised")
        self.step_duration = meter.create_histogram(
            "liteflow.step.duration", unit="s", description="How long a step run took"
        )
        self._counted: dict[type[LifecycleEvent], _Tally] = {
            WorkflowStarted: self.workflows_started,
            WorkflowCompleted: self.workflows_completed,
            WorkflowTerminated: self.workflows_terminated,
        }
        self._by_definition: dict[str, DefinitionInstruments] = {}

    @staticmethod
    def _counter(meter: metrics.Meter, name: str, unit: str, description: str) -> _Tally:
        tally = _Tally()
        meter.create_observable_counter(name, callbacks=[tally.observe], unit=unit, description=description)
        return tally

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
        tally = self._counted.get(type(event))
        if tally is not None:
            tally.add(event.workflow_definition_id)
