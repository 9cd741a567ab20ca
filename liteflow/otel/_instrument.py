"""`instrument`: traces and metrics of one host, on the application's providers."""

from __future__ import annotations

import weakref
from importlib.metadata import PackageNotFoundError, version

from opentelemetry import metrics, trace

from liteflow.core.errors import InvalidArgumentError
from liteflow.core.host import WorkflowHost

from ._metrics import Instruments
from ._tracing import StepTracing, TraceContextCapture

__all__ = ["instrument"]

_instrumented: weakref.WeakSet[WorkflowHost] = weakref.WeakSet()


def _liteflow_version() -> str:
    try:
        return version("liteflow")
    except PackageNotFoundError:
        return ""


def instrument(
    host: WorkflowHost,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    """Trace every step run of `host` and report its metrics; the providers default to the
    global ones (``opentelemetry.trace.set_tracer_provider``...), and none is installed here.

    Spans: ``liteflow.step <step name>`` per run (retries included), a child of the trace that
    was active when the workflow was started; a step that raises sets the span's status to
    ERROR and records the exception. Metrics, each with the attribute
    ``liteflow.workflow.definition``: ``liteflow.workflows.started``, ``.completed``,
    ``.terminated``, ``liteflow.steps.run``, ``liteflow.steps.failed`` and the histogram
    ``liteflow.step.duration`` (seconds). Call it before starting workflows whose steps
    should join their caller's trace.
    """
    if not isinstance(host, WorkflowHost):
        raise InvalidArgumentError(f"instrument() needs a WorkflowHost, got {host!r}")
    if host in _instrumented:
        raise InvalidArgumentError("this host is already instrumented")
    release = _liteflow_version()
    tracer = trace.get_tracer("liteflow", release, tracer_provider=tracer_provider)
    instruments = Instruments(metrics.get_meter("liteflow", release, meter_provider=meter_provider))
    host.add_workflow_middleware(TraceContextCapture(tracer))
    host.add_step_middleware(StepTracing(tracer, instruments), outermost=True)
    host.on_lifecycle_event(instruments.count_workflow, cluster=False, kinds=instruments.counted_kinds)
    _instrumented.add(host)
