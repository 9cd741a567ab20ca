"""Spans: the caller's trace context kept with the instance, and a span around every step run."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from contextvars import Token

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode

from liteflow.core.records import WorkflowInstance
from liteflow.core.step import ExecutionResult, StepBody, StepExecutionContext

from ._metrics import DefinitionInstruments, Instruments

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
            root = self._tracer.start_span(
                f"liteflow.workflow {instance.workflow_definition_id}",
                attributes={
                    "liteflow.workflow.definition": instance.workflow_definition_id,
                    "liteflow.workflow.version": instance.version,
                },
            )
            propagate.inject(carrier, context=trace.set_span_in_context(root))
            root.end()
        if carrier:
            instance.trace_context = json.dumps(carrier, separators=(",", ":"), sort_keys=True)


class StepTracing:
    """Step middleware: a `liteflow.step <name>` span around the run, and the step metrics;
    in both forms, so an awaited step is traced on the event loop without a thread.

    The span is started, made current and ended by hand rather than through
    ``start_as_current_span``: its context-manager layers cost more than the span itself."""

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
        run = self._begin(context)
        try:
            result = call_next()
        except BaseException as error:
            run.end(error)
            raise
        run.end(None)
        return result

    async def call_async(
        self,
        context: StepExecutionContext,
        body: StepBody,
        call_next: Callable[[], Awaitable[ExecutionResult | None]],
    ) -> ExecutionResult | None:
        """Around an awaited step: the span lasts until the step's await ends."""
        run = self._begin(context)
        try:
            result = await call_next()
        except BaseException as error:
            run.end(error)
            raise
        run.end(None)
        return result

    def _begin(self, context: StepExecutionContext) -> _StepRun:
        workflow = context.workflow
        step = context.step
        name = step.display_name
        parent = self._parent(workflow.trace_context)
        span = self._tracer.start_span(
            f"liteflow.step {name}",
            context=parent,
            attributes={
                "liteflow.workflow.id": workflow.id,
                "liteflow.workflow.definition": workflow.workflow_definition_id,
                "liteflow.workflow.version": workflow.version,
                "liteflow.step.id": step.id,
                "liteflow.step.name": name,
                "liteflow.step.attempt": context.execution_pointer.retry_count + 1,
            },
            record_exception=False,
            set_status_on_exception=False,
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return _StepRun(span, token, self._instruments.for_definition(workflow.workflow_definition_id))

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


class _StepRun:
    """One traced step run: its span, the token that made it current, its metrics."""

    __slots__ = ("_measured", "_span", "_started", "_token")

    def __init__(self, span: trace.Span, token: Token[Context], measured: DefinitionInstruments) -> None:
        self._span = span
        self._token = token
        self._measured = measured
        self._started = time.perf_counter()

    def end(self, error: BaseException | None) -> None:
        """Close the span (ERROR with the exception recorded when the step raised)."""
        seconds = time.perf_counter() - self._started
        otel_context.detach(self._token)
        span = self._span
        if isinstance(error, Exception) and span.is_recording():
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()
        self._measured.step_ran(seconds, error is not None)
