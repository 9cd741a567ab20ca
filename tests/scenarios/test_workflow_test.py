"""WorkflowTest and the liteflow_test fixture, used as a user's tests would."""

from __future__ import annotations

import time
from datetime import timedelta

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
)
from liteflow.core.testing import WorkflowTest


class Remind(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        context.workflow.data["reminded"] = True
        return ExecutionResult.next()


class Reminder(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).delay(lambda data: timedelta(hours=1)).then(Remind)


class Approval(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).wait_for("approved", lambda data: data["order"]).output(
            "answer", lambda step: step.event_data
        )


class Flaky(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if context.execution_pointer.retry_count < 2:
            raise ConnectionError("payment service down")
        return ExecutionResult.next()


class Payment(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Flaky).on_error(WorkflowStep.RETRY, timedelta(minutes=1))


def test_an_hour_passes_with_advance_and_not_before() -> None:
    started = time.monotonic()
    with WorkflowTest(Reminder()) as test:
        workflow_id = test.start_workflow("Reminder", {})
        test.advance(timedelta(minutes=59))
        with pytest.raises(TimeoutError, match="still runnable"):
            test.wait_for_workflow_to_complete(workflow_id, timeout=0.2)
        test.advance(timedelta(minutes=1))
        test.wait_for_workflow_to_complete(workflow_id)
        assert test.get_status(workflow_id) == WorkflowInstance.COMPLETE
        assert test.get_data(workflow_id) == {"reminded": True}
    assert time.monotonic() - started < 2


def test_an_event_published_in_the_test_reaches_the_workflow() -> None:
    with WorkflowTest(Approval()) as test:
        workflow_id = test.start_workflow("Approval", {"order": "42"})
        test.advance(timedelta(0))  # the workflow is waiting once the host is idle
        test.publish_event("approved", "42", "yes")
        test.wait_for_workflow_to_complete(workflow_id)
        assert test.get_data(workflow_id)["answer"] == "yes"


def test_unhandled_step_errors_lists_every_recorded_error() -> None:
    with WorkflowTest(Payment()) as test:
        workflow_id = test.start_workflow("Payment")
        test.advance(timedelta(minutes=1))
        test.advance(timedelta(minutes=1))
        test.wait_for_workflow_to_complete(workflow_id)
        errors = test.unhandled_step_errors
    assert [error.message for error in errors] == ["ConnectionError: payment service down"] * 2
    assert {error.workflow_id for error in errors} == {workflow_id}
    assert errors[1].error_time - errors[0].error_time == timedelta(minutes=1)


def test_the_liteflow_test_fixture_gives_a_started_workflow_test(liteflow_test: WorkflowTest) -> None:
    liteflow_test.register_workflow(Reminder())
    workflow_id = liteflow_test.start_workflow("Reminder", {})
    liteflow_test.advance(timedelta(hours=1))
    assert liteflow_test.wait_for_workflow_to_complete(workflow_id).data == {"reminded": True}


def test_a_workflow_test_refuses_another_clock() -> None:
    with pytest.raises(InvalidArgumentError, match="FakeClock"):
        WorkflowTest(clock=None)
