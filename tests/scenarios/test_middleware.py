"""Step and workflow middleware: order, results, retries, and errors in each."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from liteflow.core import (
    ExecutionResult,
    InvalidArgumentError,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStep,
    configure_workflow_host,
)
from liteflow.core.middleware import StepMiddleware
from tests.support import FailsOnce, Scenario, running_host, wait_until


class Record(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        context.workflow.data.setdefault("ran", []).append(context.step.display_name)
        return ExecutionResult.outcome("from the step")


class TwoSteps(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Record).then(Record)


class Retried(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(FailsOnce).on_error(WorkflowStep.RETRY, timedelta(milliseconds=10))


def tracing(name: str, log: list[str]) -> StepMiddleware:
    def middleware(context: StepExecutionContext, body: StepBody, call_next: Any) -> ExecutionResult | None:
        log.append(f"{name} before {type(body).__name__}")
        result = call_next()
        log.append(f"{name} after {result.outcome_value if result else None}")
        return result

    return middleware


def test_step_middleware_wrap_each_step_run_in_registration_order() -> None:
    log: list[str] = []
    with running_host(step_middleware=[tracing("outer", log), tracing("inner", log)]) as host:
        scenario = Scenario(host)
        scenario.wait_for_completion(scenario.run(TwoSteps(), {}))
    assert (
        log
        == [
            "outer before Record",
            "inner before Record",
            "inner after from the step",
            "outer after from the step",
        ]
        * 2
    )


def test_what_a_step_middleware_returns_is_the_steps_result() -> None:
    def replace(context: StepExecutionContext, body: StepBody, call_next: Any) -> ExecutionResult:
        call_next()
        return ExecutionResult.outcome("from the middleware")

    outcomes: list[Any] = []
    with running_host(step_middleware=[replace]) as host:
        scenario = Scenario(host)
        instance = scenario.wait_for_completion(scenario.run(TwoSteps(), {}))
        outcomes = [pointer.outcome for pointer in instance.execution_pointers]
    assert outcomes == ["from the middleware", "from the middleware"]


def test_a_step_middleware_may_skip_the_step() -> None:
    def skip(context: StepExecutionContext, body: StepBody, call_next: Any) -> None:
        return None

    with running_host(step_middleware=[skip]) as host:
        scenario = Scenario(host)
        instance = scenario.wait_for_completion(scenario.run(TwoSteps(), {}))
    assert instance.data == {}


def test_step_middleware_wraps_every_retry_and_sees_the_error() -> None:
    seen: list[str] = []

    def watch(context: StepExecutionContext, body: StepBody, call_next: Any) -> ExecutionResult | None:
        try:
            result = call_next()
        except ValueError as exc:
            seen.append(f"attempt {context.execution_pointer.retry_count + 1}: {exc}")
            raise
        seen.append(f"attempt {context.execution_pointer.retry_count + 1}: ok")
        return result

    with running_host(step_middleware=[watch]) as host:
        scenario = Scenario(host)
        workflow_id = scenario.run(Retried())
        scenario.wait_for_completion(workflow_id)
        assert scenario.errors(workflow_id) == ["ValueError: card declined"]
    assert seen == ["attempt 1: card declined", "attempt 2: ok"]


def test_a_step_middleware_that_raises_fails_the_step_with_its_error_behaviour() -> None:
    def refuse(context: StepExecutionContext, body: StepBody, call_next: Any) -> None:
        raise PermissionError("not allowed")

    with running_host(step_middleware=[refuse]) as host:
        scenario = Scenario(host)
        host.register_workflow(TwoSteps())
        workflow_id = scenario.run(TwoSteps(), {})
        wait_until(lambda: scenario.errors(workflow_id), what="the recorded error")
        assert scenario.errors(workflow_id)[0] == "PermissionError: not allowed"
        assert scenario.instance(workflow_id).data == {}


class Audit:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def pre_workflow(self, instance: WorkflowInstance) -> None:
        self.log.append(f"{self.name} pre {instance.workflow_definition_id} stored={bool(instance.id)}")
        instance.data["audited"] = True

    def post_workflow(self, instance: WorkflowInstance) -> None:
        self.log.append(f"{self.name} post {instance.status} {instance.data['ran']}")


class PostOnly:
    def __init__(self) -> None:
        self.completed: list[str] = []

    def post_workflow(self, instance: WorkflowInstance) -> None:
        self.completed.append(instance.id)


def test_workflow_middleware_runs_before_the_first_step_and_once_it_completed(scenario: Scenario) -> None:
    log: list[str] = []
    post_only = PostOnly()
    host = scenario.host
    host.add_workflow_middleware(Audit("first", log))
    host.add_workflow_middleware(Audit("second", log))
    host.add_workflow_middleware(post_only)
    workflow_id = scenario.run(TwoSteps(), {})
    assert scenario.instance(workflow_id).data["audited"] is True  # stored as pre_workflow left it
    scenario.wait_for_completion(workflow_id)
    wait_until(lambda: post_only.completed, what="post_workflow")
    assert log == [
        "first pre TwoSteps stored=False",
        "second pre TwoSteps stored=False",
        "first post 2 ['Record', 'Record']",
        "second post 2 ['Record', 'Record']",
    ]
    assert post_only.completed == [workflow_id]


def test_a_pre_workflow_error_fails_start_workflow_and_stores_nothing() -> None:
    class Refuse:
        def pre_workflow(self, instance: WorkflowInstance) -> None:
            raise PermissionError("quota exceeded")

    with running_host(workflow_middleware=[Refuse()]) as host:
        host.register_workflow(TwoSteps())
        with pytest.raises(PermissionError, match="quota exceeded"):
            host.start_workflow("TwoSteps", data={})
        assert host.persistence_service.get_workflow_instances() == []


def test_a_post_workflow_error_is_logged_and_recorded_and_the_workflow_stays_complete(
    caplog: pytest.LogCaptureFixture,
) -> None:
    called = threading.Event()

    class Broken:
        def post_workflow(self, instance: WorkflowInstance) -> None:
            called.set()
            raise RuntimeError("webhook down")

    with running_host(workflow_middleware=[Broken()]) as host:
        scenario = Scenario(host)
        workflow_id = scenario.run(TwoSteps(), {})
        scenario.wait_for_completion(workflow_id)
        assert called.wait(5)
        wait_until(lambda: scenario.errors(workflow_id), what="the recorded error")
        assert scenario.errors(workflow_id) == ["post_workflow of Broken failed: RuntimeError: webhook down"]
        assert scenario.instance(workflow_id).status == WorkflowInstance.COMPLETE
    assert any("post_workflow" in record.message and record.exc_info for record in caplog.records)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"step_middleware": ["not callable"]}, "a step middleware must be a callable"),
        ({"step_middleware": print}, "step_middleware must be a list"),
        ({"workflow_middleware": [object()]}, "needs a pre_workflow or post_workflow method"),
    ],
)
def test_bad_middleware_is_refused_when_the_host_is_configured(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        configure_workflow_host(**options)
