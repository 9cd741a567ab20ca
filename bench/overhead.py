"""`python -m bench.overhead`: what the observability features cost, in three-step workflows/s.

The bench's throughput workload (the seed's 3-step workflow, N instances, time from the first
start to the last completion) on the same host options, in variants that differ only in what
is installed:

- `plain`: nothing; the engine as every other benchmark runs it
- `middleware`: a pass-through step middleware and a workflow middleware with both hooks
- `lifecycle`: one lifecycle event handler (counting events), so every event is built and dispatched
- `tracing`: ``liteflow.otel.instrument`` on the OpenTelemetry SDK: a span per step run through a
  BatchSpanProcessor (to an exporter that drops them: the instrumentation is measured, not an
  exporter's I/O), and the metrics on a MeterProvider with an in-memory reader

`--step-ms N` makes each of the three steps wait N ms first (like a call to another service),
to see the cost against steps that do something. Each measurement runs in a fresh process;
the variants take turns, round after round, so load from elsewhere on the machine falls on
all of them alike. The median of the rounds is compared with `plain`'s. Nothing is
asserted: the issue's limit for tracing (at most 15% fewer workflows/s) is printed as PASS or
MISS.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .report import announce
from .turns import in_fresh_process, names, report, take_turns, turns_parser

VARIANTS = ("plain", "middleware", "lifecycle", "tracing")
RESULTS = Path(__file__).resolve().parent / "results" / "overhead.json"
#: The most a variant may lose against `plain` (median workflows/s), by the issue.
LIMITS = {"tracing": 0.15}


def install_variant(variant: str, host: Any) -> None:
    """Put the variant's extras on a started host."""
    if variant == "middleware":
        from liteflow.core import WorkflowInstance

        class Passing:
            def pre_workflow(self, instance: WorkflowInstance) -> None:
                return None

            def post_workflow(self, instance: WorkflowInstance) -> None:
                return None

        host.add_step_middleware(lambda context, body, call_next: call_next())
        host.add_workflow_middleware(Passing())
    elif variant == "lifecycle":
        counted = [0]

        def count(event: object) -> None:
            counted[0] += 1

        host.on_lifecycle_event(count)
    elif variant == "tracing":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        from liteflow.otel import instrument

        class Dropping(SpanExporter):
            def export(self, spans: Sequence[Any]) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(BatchSpanProcessor(Dropping()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        instrument(host, tracer_provider=tracer_provider, meter_provider=meter_provider)


def _waiting_first(run: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    def waiting_run(self: Any, context: Any) -> Any:
        time.sleep(seconds)
        return run(self, context)

    return waiting_run


def child(variant: str, system: str, count: int, options: dict[str, Any], step_ms: float) -> dict[str, Any]:
    """One measurement, in this process: the bench driver's throughput with the variant installed."""
    from . import liteflow_flows
    from .liteflow_driver import LiteFlowWorkloads, WorkflowInstance
    from .liteflow_flows import RECORDER

    if step_ms:
        for step in (liteflow_flows.Hello, liteflow_flows.AddNumbers, liteflow_flows.Goodbye):
            step.run = _waiting_first(step.run, step_ms / 1000)  # type: ignore[method-assign]

    class Variant(LiteFlowWorkloads):
        @contextmanager
        def running_host(self, spec: dict[str, Any]) -> Iterator[Any]:
            with super().running_host(spec) as host:
                install_variant(variant, host)
                yield host

    with tempfile.TemporaryDirectory(prefix="liteflow-overhead-") as workdir:
        spec = {"system": system, "count": count, "timeout": 120, "workdir": workdir, "options": options}
        return Variant(RECORDER, WorkflowInstance.COMPLETE).throughput(spec)


def measure(variant: str, system: str, count: int, options: dict[str, Any], step_ms: float) -> float:
    arguments = [variant, system, str(count), json.dumps(options), str(step_ms)]
    metrics = in_fresh_process("bench.overhead", arguments, f"{variant} on {system}")
    if metrics.get("wrong"):
        raise RuntimeError(f"{variant} on {system}: {metrics['wrong']} sampled workflows are wrong")
    return float(metrics["per_second"])


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    parser = turns_parser("bench.overhead", __doc__, VARIANTS, 10_000, 5)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="max_concurrent_workflows (default %(default)s, the fastest on memory)",
    )
    parser.add_argument(
        "--step-ms", type=float, default=0.0, help="each step waits this long first (default %(default)s)"
    )
    args = parser.parse_args(given)
    if args.child:
        variant, system, count, options, step_ms = args.child
        print(json.dumps(child(variant, system, int(count), json.loads(options), float(step_ms))))
        return 0
    command, info = announce("LiteFlow overhead bench", "bench.overhead", given)
    options = {"max_concurrent_workflows": args.workers}
    rates = take_turns(
        args,
        lambda variant, system: measure(variant, system, args.count, options, args.step_ms),
        lambda rate: f"{rate:>9,.0f} workflows/s",
    )
    body = []
    verdicts = []
    for system in names(args.systems):
        baseline = statistics.median(rates[system, "plain"]) if (system, "plain") in rates else None
        for variant in names(args.variants):
            median = statistics.median(rates[system, variant])
            change = "" if baseline is None else f"{(median / baseline - 1) * 100:+.1f}%"
            body.append([system, variant, f"{median:,.0f}", f"{max(rates[system, variant]):,.0f}", change])
            if baseline is not None and variant in LIMITS:
                loss = 1 - median / baseline
                verdict = "PASS" if loss <= LIMITS[variant] else "MISS"
                limit = LIMITS[variant] * 100
                verdicts.append(
                    f"  {verdict} {system}: {variant} loses {loss * 100:.1f}% (limit {limit:.0f}%)"
                )
    report(
        (["system", "variant", "median wf/s", "best wf/s", "vs plain"], body),
        verdicts,
        RESULTS,
        (command, info),
        count=args.count,
        step_ms=args.step_ms,
        options=options,
        rates={f"{system}/{variant}": values for (system, variant), values in rates.items()},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
