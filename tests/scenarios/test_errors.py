"""Step failures: logged, recorded, then retried, suspended or terminated as configured."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from liteflow.core import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStep,
)
from tests.support import Scenario, wait_until


class FailTwice(StepBody):
    """Raises on its first two runs for a given workflow, then succeeds."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = context.workflow.data
        data["attempts"] = data.get("attempts", 0) + 1
        if data["attempts"] <= 2:
            raise ValueError(f"attempt {data['attempts']} failed")
        return ExecutionResult.next()


class AlwaysFail(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        raise RuntimeError("this step always fails")


def after(context: StepExecutionContext) -> None:
    context.workflow.data["after"] = True


class OnError(Workflow):
    def __init__(self, body: Any, behavior: int, interval: timedelta | None = None, **policy: Any) -> None:
        self._body = body
        self._behavior = behavior
        self._interval = interval
        self._policy = policy

    def id(self) -> str:
        return f"OnError-{self._body.__name__}-{self._behavior}-{sorted(self._policy.items())}"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(self._body).on_error(self._behavior, self._interval, **self._policy).then(after)


def test_failing_step_is_logged_with_its_traceback(
    memory_scenario: Scenario, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="liteflow"):
        workflow_id = memory_scenario.run(OnError(FailTwice, WorkflowStep.RETRY), {})
        memory_scenario.wait_for_completion(workflow_id)
    failures = [record for record in caplog.records if workflow_id in record.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info is not None
    assert "attempt 1 failed" in caplog.text
    assert "Traceback" in caplog.text


def test_retry_runs_the_step_again_and_records_each_error(scenario: Scenario) -> None:
    workflow_id = scenario.run(OnError(FailTwice, WorkflowStep.RETRY, timedelta(milliseconds=50)), {})
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data == {"attempts": 3, "after": True}
    assert scenario.errors(workflow_id) == ["ValueError: attempt 1 failed", "ValueError: attempt 2 failed"]


def test_retry_waits_its_interval_between_attempts(scenario: Scenario) -> None:
    workflow_id = scenario.run(OnError(FailTwice, WorkflowStep.RETRY, timedelta(milliseconds=200)), {})
    scenario.wait_for_completion(workflow_id)
    errors = scenario.host.persistence_service.get_errors(workflow_id)
    gap = errors[1].error_time - errors[0].error_time
    assert gap >= timedelta(milliseconds=190)


def test_suspend_pauses_the_workflow_until_it_is_resumed(scenario: Scenario) -> None:
    workflow_id = scenario.run(OnError(FailTwice, WorkflowStep.SUSPEND), {})
    scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
    assert scenario.instance(workflow_id).data == {"attempts": 1}
    assert scenario.host.resume_workflow(workflow_id) is True
    scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
    assert scenario.instance(workflow_id).data == {"attempts": 2}
    assert scenario.host.resume_workflow(workflow_id) is True
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data == {"attempts": 3, "after": True}


def test_terminate_ends_the_workflow_with_a_complete_time(scenario: Scenario) -> None:
    workflow_id = scenario.run(OnError(AlwaysFail, WorkflowStep.TERMINATE), {})
    instance = scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    assert instance.complete_time is not None
    assert "after" not in instance.data
    assert scenario.errors(workflow_id) == ["RuntimeError: this step always fails"]


def test_retry_gives_up_after_max_retries_and_falls_back(scenario: Scenario) -> None:
    workflow = OnError(AlwaysFail, WorkflowStep.RETRY, timedelta(milliseconds=10), max_retries=2)
    workflow_id = scenario.run(workflow, {})
    scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    assert len(scenario.errors(workflow_id)) == 3


def test_default_error_behaviour_is_retry_with_the_host_interval(memory_scenario: Scenario) -> None:
    class DefaultRetry(Workflow):
        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(FailTwice).then(after)

    workflow_id = memory_scenario.run(DefaultRetry(), {})
    assert memory_scenario.wait_for_completion(workflow_id).data == {"attempts": 3, "after": True}


def test_a_failing_workflow_does_not_stop_the_workers(memory_scenario: Scenario) -> None:
    failing = [memory_scenario.run(OnError(AlwaysFail, WorkflowStep.TERMINATE), {}) for _ in range(10)]
    healthy = [memory_scenario.run(OnError(FailTwice, WorkflowStep.RETRY), {}) for _ in range(10)]
    for workflow_id in failing:
        memory_scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    for workflow_id in healthy:
        memory_scenario.wait_for_completion(workflow_id)
    assert all(thread.is_alive() for thread in memory_scenario.host._threads)


def test_step_returning_a_wrong_type_is_a_recorded_error(scenario: Scenario) -> None:
    class WrongResult(StepBody):
        def run(self, context: StepExecutionContext) -> Any:
            return 42

    workflow_id = scenario.run(OnError(WrongResult, WorkflowStep.TERMINATE), {})
    scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    [message] = scenario.errors(workflow_id)
    assert "returned int" in message and "ExecutionResult" in message


def test_output_into_missing_data_names_the_output(scenario: Scenario) -> None:
    class OutputWorkflow(Workflow):
        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(lambda context: None).output("total", lambda step: 1).on_error(
                WorkflowStep.TERMINATE
            )

    workflow_id = scenario.run(OutputWorkflow())
    scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    wait_until(lambda: scenario.errors(workflow_id), what="the recorded error")
    assert "output 'total'" in scenario.errors(workflow_id)[0]
