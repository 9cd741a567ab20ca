"""Spans: the caller's trace context kept with the instance, and a span around every step run."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from liteflow.core.records import WorkflowInstance
from liteflow.core.step import ExecutionResult, StepBody, StepExecutionContext

from ._metrics import Instruments

__all__ = ["StepTracing", "TraceContextCapture"]

#: Parent contexts decoded from stored trace contexts, by their text (a workflow's steps share one).
_PARENTS_KEPT = 1024


class TraceContextCapture:
    """Workflow middleware: stores the trace context active at `start_workflow` with the new
    instance, so that its steps, on any node and however much later, join that trace. When no
    span is active, a `liteflow.workflow <definition>` span is started (and ended) to be the
    root of the workflow's trace."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def pre_workflow(self, instance: WorkflowInstance) -> None:
        carrier: dict[str, str] = {}
        if trace.get_current_span().get_span_context().is_valid:
            propagate.inject(carrier)
        else:
            with self._tracer.start_as_current_span(
                f"liteflow.workflow {instance.workflow_definition_id}",
                attributes={
                    "liteflow.workflow.definition": instance.workflow_definition_id,
                    "liteflow.workflow.version": instance.version,
                },
            ):
                propagate.inject(carrier)
        if carrier:
            instance.trace_context = json.dumps(carrier, separators=(",", ":"), sort_keys=True)


class StepTracing:
    """Step middleware: a `liteflow.step <name>` span around the run, and the step metrics;
    in both forms, so an awaited step is traced on the event loop without a thread."""

    def __init__(self, tracer: trace.Tracer, instruments: Instruments) -> None:
        self._tracer = tracer
        self._instruments = instruments
        self._parents: dict[str, Context] = {}

    def __call__(
        self,
        context: StepExecutionContext,
        body: StepBody,
        call_next: Callable[[], ExecutionResult | None],
    ) -> ExecutionResult | None:
        with self._step_span(context):
            return call_next()

    async def call_async(
        self,
        context: StepExecutionContext,
        body: StepBody,
        call_next: Callable[[], Awaitable[ExecutionResult | None]],
    ) -> ExecutionResult | None:
        """Around an awaited step: the span lasts until the step's await ends."""
        with self._step_span(context):
            return await call_next()

    @contextmanager
    def _step_span(self, context: StepExecutionContext) -> Iterator[None]:
        workflow = context.workflow
        step = context.step
        name = step.display_name
        attributes: dict[str, Any] = {
            "liteflow.workflow.id": workflow.id,
            "liteflow.workflow.definition": workflow.workflow_definition_id,
            "liteflow.workflow.version": workflow.version,
            "liteflow.step.id": step.id,
            "liteflow.step.name": name,
            "liteflow.step.attempt": context.execution_pointer.retry_count + 1,
        }
        measured = self._instruments.for_definition(workflow.workflow_definition_id)
        started = time.perf_counter()
        failed = True
        try:
            with self._tracer.start_as_current_span(
                f"liteflow.step {name}", context=self._parent(workflow.trace_context), attributes=attributes
            ):
                yield
            failed = False
        finally:
            measured.step_ran(time.perf_counter() - started, failed)

    def _parent(self, stored: str | None) -> Context:
        """The context the step's span is a child of: the stored one, else a fresh root."""
        if stored is None:
            return Context()
        parent = self._parents.get(stored)
        if parent is None:
            try:
                carrier = json.loads(stored)
            except ValueError:
                carrier = None
            parent = propagate.extract(carrier) if isinstance(carrier, dict) else Context()
            if len(self._parents) >= _PARENTS_KEPT:
                self._parents.clear()
            self._parents[stored] = parent
        return parent
