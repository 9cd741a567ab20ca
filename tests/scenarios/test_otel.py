"""liteflow.otel: spans of step runs in the caller's trace, and the workflow and step metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from liteflow.core import (
    ExecutionResult,
    InvalidArgumentError,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowInstance,
    WorkflowStep,
)
from liteflow.core.testing import FakeClock
from liteflow.otel import instrument
from tests.async_support import Chain
from tests.support import FailsOnce, Hello, Scenario, running_host, sqlite_persistence, wait_until


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def instrument(self, host: WorkflowHost) -> None:
        instrument(host, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)

    def run_to_completion(self, workflow: Workflow) -> str:
        """Run `workflow` once on an instrumented host; return its id."""
        with running_host() as host:
            self.instrument(host)
            scenario = Scenario(host)
            workflow_id = scenario.run(workflow)
            scenario.wait_for_completion(workflow_id)
        return workflow_id

    def step_spans(self, workflow_id: str) -> list[ReadableSpan]:
        return [
            span
            for span in self.spans.get_finished_spans()
            if span.attributes is not None and span.attributes.get("liteflow.workflow.id") == workflow_id
        ]

    def points(self, name: str) -> dict[str, Any]:
        """Metric `name`'s data points by definition id: a sum, or a histogram's count."""
        found: dict[str, Any] = {}
        data = self.metrics.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            definition = str(point.attributes.get("liteflow.workflow.definition"))
                            found[definition] = getattr(point, "value", None) or getattr(point, "count", 0)
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metrics])
    yield Telemetry(spans, metrics, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


class Order(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).name("receive").then(FailsOnce).name("charge").on_error(
            WorkflowStep.RETRY, timedelta(milliseconds=10)
        ).then(Hello).name("ship")


class Slow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).name("before").delay(lambda data: timedelta(hours=2)).then(Hello).name(
            "after"
        )


class Doomed(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(FailsOnce).on_error(WorkflowStep.TERMINATE)


class Parent(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).name("parent").sub_workflow("Order").then(Hello).name("parent done")


def test_each_step_run_is_a_span_with_the_steps_attributes(telemetry: Telemetry) -> None:
    workflow_id = telemetry.run_to_completion(Order())
    spans = telemetry.step_spans(workflow_id)
    assert [span.name for span in spans] == [
        "liteflow.step receive",
        "liteflow.step charge",
        "liteflow.step charge",
        "liteflow.step ship",
    ]
    assert [span.attributes for span in spans][1:3] == [
        {
            "liteflow.workflow.id": workflow_id,
            "liteflow.workflow.definition": "Order",
            "liteflow.workflow.version": 1,
            "liteflow.step.id": 1,
            "liteflow.step.name": "charge",
            "liteflow.step.attempt": attempt,
        }
        for attempt in (1, 2)
    ]


def test_a_failing_step_sets_its_span_to_error_and_records_the_exception(telemetry: Telemetry) -> None:
    workflow_id = telemetry.run_to_completion(Order())
    failed, retried = [span for span in telemetry.step_spans(workflow_id) if span.name.endswith("charge")]
    assert failed.status.status_code is StatusCode.ERROR
    assert [event.name for event in failed.events] == ["exception"]
    assert failed.events[0].attributes is not None
    assert failed.events[0].attributes["exception.message"] == "card declined"
    assert retried.status.status_code is StatusCode.UNSET


def test_the_steps_join_the_trace_active_when_the_workflow_was_started(
    telemetry: Telemetry, scenario: Scenario
) -> None:
    telemetry.instrument(scenario.host)
    tracer = telemetry.tracer_provider.get_tracer("web")
    with tracer.start_as_current_span("POST /orders") as request:
        workflow_id = scenario.run(Order())
    scenario.wait_for_completion(workflow_id)
    stored = scenario.instance(workflow_id).trace_context
    assert stored is not None and format(request.get_span_context().trace_id, "032x") in stored
    spans = telemetry.step_spans(workflow_id)
    assert len(spans) == 4
    assert {span.context.trace_id for span in spans} == {request.get_span_context().trace_id}
    assert {span.parent.span_id for span in spans if span.parent} == {request.get_span_context().span_id}


def test_steps_run_hours_later_by_another_host_join_the_callers_trace(telemetry: Telemetry) -> None:
    clock = FakeClock()
    tracer = telemetry.tracer_provider.get_tracer("web")
    with sqlite_persistence() as store:
        with running_host(store, clock=clock) as first:
            telemetry.instrument(first)
            scenario = Scenario(first)
            with tracer.start_as_current_span("POST /orders") as request:
                workflow_id = scenario.run(Slow())
            wait_until(lambda: scenario.instance(workflow_id).next_execution > clock.now(), what="the delay")
        clock.advance(timedelta(hours=2))

        def prepare(second: WorkflowHost) -> None:
            second.register_workflow(Slow())
            telemetry.instrument(second)

        with running_host(store, prepare, clock=clock, poll_interval=timedelta(milliseconds=50)) as second:
            Scenario(second).wait_for_completion(workflow_id)
    spans = telemetry.step_spans(workflow_id)
    assert spans[-1].name == "liteflow.step after"
    assert {span.context.trace_id for span in spans} == {request.get_span_context().trace_id}


def test_a_workflow_started_outside_any_trace_gets_one_of_its_own(telemetry: Telemetry) -> None:
    workflow_id = telemetry.run_to_completion(Order())
    roots = [span for span in telemetry.spans.get_finished_spans() if span.name == "liteflow.workflow Order"]
    spans = telemetry.step_spans(workflow_id)
    assert len(roots) == 1 and roots[0].parent is None
    assert {span.context.trace_id for span in spans} == {roots[0].context.trace_id}


def test_a_sub_workflows_steps_join_the_parents_trace(telemetry: Telemetry) -> None:
    with running_host() as host:
        telemetry.instrument(host)
        scenario = Scenario(host)
        host.register_workflow(Order())
        tracer = telemetry.tracer_provider.get_tracer("web")
        with tracer.start_as_current_span("request") as request:
            parent_id = scenario.run(Parent())
        scenario.wait_for_completion(parent_id)
    traces = {span.context.trace_id for span in telemetry.spans.get_finished_spans()}
    assert traces == {request.get_span_context().trace_id}
    # the request; the parent's steps (its sub_workflow step runs twice: to start, when told); the child's
    assert len(telemetry.spans.get_finished_spans()) == 1 + 4 + 4


def test_metrics_count_workflows_and_steps_by_definition(telemetry: Telemetry) -> None:
    with running_host() as host:
        telemetry.instrument(host)
        scenario = Scenario(host)
        order_id = scenario.run(Order())
        doomed_id = scenario.run(Doomed())
        scenario.wait_for_completion(order_id)
        scenario.wait_for_status(doomed_id, WorkflowInstance.TERMINATED)
        wait_until(lambda: telemetry.points("liteflow.workflows.terminated"), what="the terminated count")
    assert telemetry.points("liteflow.workflows.started") == {"Order": 1, "Doomed": 1}
    assert telemetry.points("liteflow.workflows.completed") == {"Order": 1}
    assert telemetry.points("liteflow.workflows.terminated") == {"Doomed": 1}
    assert telemetry.points("liteflow.steps.run") == {"Order": 4, "Doomed": 1}
    assert telemetry.points("liteflow.steps.failed") == {"Order": 1, "Doomed": 1}
    assert telemetry.points("liteflow.step.duration") == {"Order": 4, "Doomed": 1}


def test_a_host_is_instrumented_once(telemetry: Telemetry) -> None:
    with running_host() as host:
        telemetry.instrument(host)
        with pytest.raises(InvalidArgumentError, match="already instrumented"):
            telemetry.instrument(host)


class AwaitsThenFailsOnce(StepBody):
    """An awaited step that opens a span of its own, then fails on its first attempt."""

    tracer: Any = None
    attempts = 0

    async def run(self, context: StepExecutionContext) -> ExecutionResult:
        with AwaitsThenFailsOnce.tracer.start_as_current_span("inside the step"):
            await asyncio.sleep(0.01)
        AwaitsThenFailsOnce.attempts += 1
        if AwaitsThenFailsOnce.attempts == 1:
            raise RuntimeError("service unavailable")
        return ExecutionResult.next()


def test_an_awaited_step_is_traced_across_its_await_and_its_failure_is_recorded(telemetry: Telemetry) -> None:
    AwaitsThenFailsOnce.tracer = telemetry.tracer_provider.get_tracer("step")
    AwaitsThenFailsOnce.attempts = 0
    workflow = Chain(
        build=lambda builder: builder.start_with(AwaitsThenFailsOnce).on_error(
            WorkflowStep.RETRY, timedelta(milliseconds=10)
        )
    )
    workflow_id = telemetry.run_to_completion(workflow)
    failed, retried = telemetry.step_spans(workflow_id)
    assert (failed.status.status_code, retried.status.status_code) == (StatusCode.ERROR, StatusCode.UNSET)
    assert failed.events[0].attributes is not None
    assert failed.events[0].attributes["exception.message"] == "service unavailable"
    inner = [span for span in telemetry.spans.get_finished_spans() if span.name == "inside the step"]
    assert [span.parent.span_id for span in inner if span.parent] == [
        failed.context.span_id,
        retried.context.span_id,
    ]
    assert None not in (failed.end_time, inner[0].end_time, retried.start_time)
    assert inner[0].end_time <= failed.end_time < retried.start_time
