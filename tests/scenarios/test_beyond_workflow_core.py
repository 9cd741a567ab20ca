"""What Workflow Core's users ask for: retry policies, event timeouts, sub-workflows."""

from __future__ import annotations

import uuid
from datetime import timedelta
from itertools import pairwise
from typing import Any

from liteflow.core import (
    WAIT_TIMEOUT,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStep,
)
from liteflow.core.testing import FakeClock
from tests.support import Scenario, wait_until


def always_fails(context: StepExecutionContext) -> None:
    data = context.workflow.data
    data["attempts"] = data.get("attempts", 0) + 1
    raise RuntimeError(f"attempt {data['attempts']}")


def record(name: str, value: Any = True) -> Any:
    def step(context: StepExecutionContext) -> None:
        context.workflow.data[name] = value

    return step


class Backoff(Workflow):
    def __init__(self, then: int) -> None:
        self._then = then

    def id(self) -> str:
        return f"Backoff{self._then}"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(always_fails).on_error(
            WorkflowStep.RETRY,
            timedelta(milliseconds=40),
            max_retries=3,
            backoff=2.0,
            max_interval=timedelta(milliseconds=100),
            then=self._then,
        ).compensate_with(record("compensated")).then(record("after"))


def gaps(scenario: Scenario, workflow_id: str) -> list[timedelta]:
    times = [error.error_time for error in scenario.host.persistence_service.get_errors(workflow_id)]
    return [later - earlier for earlier, later in pairwise(times)]


def test_retry_policy_backs_off_then_terminates_after_the_last_attempt(scenario: Scenario) -> None:
    workflow_id = scenario.run(Backoff(WorkflowStep.TERMINATE), {})
    instance = scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    assert instance.data["attempts"] == 4
    assert scenario.errors(workflow_id) == [f"RuntimeError: attempt {n}" for n in range(1, 5)]
    waits = gaps(scenario, workflow_id)
    assert waits[0] >= timedelta(milliseconds=39)
    assert waits[1] >= timedelta(milliseconds=79)
    assert waits[2] >= timedelta(milliseconds=99)


def test_retry_policy_can_fall_back_to_suspend(scenario: Scenario) -> None:
    workflow_id = scenario.run(Backoff(WorkflowStep.SUSPEND), {})
    instance = scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
    assert instance.data["attempts"] == 4


def test_retry_policy_can_fall_back_to_compensate(scenario: Scenario) -> None:
    workflow_id = scenario.run(Backoff(WorkflowStep.COMPENSATE), {})
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data == {"attempts": 4, "compensated": True, "after": True}


class TimedWait(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(record("started")).wait_for(
            "approval", lambda data: data["key"], timeout=timedelta(days=2)
        ).output("answer", lambda step: step.event_data).when(WAIT_TIMEOUT).do(
            lambda then: then.start_with(record("timed_out"))
        ).then(record("finished"))


def time_out(scenario: Scenario, key: str) -> None:
    """Once the wait is stored, move the host's FakeClock past its two days."""
    scenario.wait_for_subscription("approval", key)
    clock = scenario.host.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(days=2))


def test_wait_with_timeout_ends_with_the_timeout_outcome(clocked_scenario: Scenario) -> None:
    key = uuid.uuid4().hex
    workflow_id = clocked_scenario.run(TimedWait(), {"key": key})
    time_out(clocked_scenario, key)
    data = clocked_scenario.wait_for_completion(workflow_id).data
    assert data["timed_out"] is True and data["finished"] is True
    assert data["answer"] is None


def test_event_before_the_timeout_is_received_normally(clocked_scenario: Scenario) -> None:
    key = uuid.uuid4().hex
    workflow_id = clocked_scenario.run(TimedWait(), {"key": key})
    clocked_scenario.wait_for_subscription("approval", key)
    clocked_scenario.host.publish_event("approval", key, "yes")
    data = clocked_scenario.wait_for_completion(workflow_id).data
    assert data["answer"] == "yes" and data["finished"] is True
    assert "timed_out" not in data


def test_event_after_the_timeout_does_not_reopen_the_step(clocked_scenario: Scenario) -> None:
    key = uuid.uuid4().hex
    workflow_id = clocked_scenario.run(TimedWait(), {"key": key})
    time_out(clocked_scenario, key)
    assert clocked_scenario.wait_for_completion(workflow_id).data["timed_out"] is True
    event_id = clocked_scenario.host.publish_event("approval", key, "late")
    wait_until(
        lambda: clocked_scenario.host.persistence_service.get_event(event_id).is_processed, what="processing"
    )
    instance = clocked_scenario.instance(workflow_id)
    assert instance.data["answer"] is None
    assert instance.status == WorkflowInstance.COMPLETE


class Child(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(self.double)

    @staticmethod
    def double(context: StepExecutionContext) -> None:
        data = context.workflow.data
        if data.get("fail"):
            raise RuntimeError("child failed")
        data["doubled"] = data["value"] * 2


class WaitingChild(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(record("child_started")).wait_for("release", lambda data: data["key"]).then(
            record("released")
        )


class Parent(Workflow):
    def __init__(self, child: str = "Child") -> None:
        self._child = child

    def id(self) -> str:
        return f"Parent{self._child}"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(record("parent_started")).sub_workflow(
            self._child,
            data=lambda data: {"value": data["value"], "fail": data.get("fail"), "key": data.get("key")},
        ).output("child_result", lambda step: step.child_data).on_error(WorkflowStep.TERMINATE).then(
            record("parent_done")
        )


def register(scenario: Scenario, *workflows: Workflow) -> None:
    for workflow in workflows:
        if not scenario.host.registry.is_registered(workflow.id(), workflow.version()):
            scenario.host.register_workflow(workflow)


def test_sub_workflow_runs_a_child_and_outputs_its_final_data(scenario: Scenario) -> None:
    register(scenario, Child())
    workflow_id = scenario.run(Parent(), {"value": 21})
    data = scenario.wait_for_completion(workflow_id).data
    assert data["child_result"]["doubled"] == 42
    assert data["parent_done"] is True
    [child] = [
        instance
        for instance in scenario.host.persistence_service.get_workflow_instances(
            definition_id="Child", take=1000
        )
        if instance.parent_workflow_id == workflow_id
    ]
    assert child.status == WorkflowInstance.COMPLETE


def test_parent_waits_while_its_child_waits(scenario: Scenario) -> None:
    register(scenario, WaitingChild())
    key = uuid.uuid4().hex
    workflow_id = scenario.run(Parent("WaitingChild"), {"value": 1, "key": key})
    scenario.wait_for_subscription("release", key)
    assert scenario.instance(workflow_id).status == WorkflowInstance.RUNNABLE
    assert "parent_done" not in scenario.instance(workflow_id).data
    scenario.host.publish_event("release", key)
    data = scenario.wait_for_completion(workflow_id).data
    assert data["child_result"]["released"] is True and data["parent_done"] is True


def test_terminated_child_fails_the_parent_step(scenario: Scenario) -> None:
    class FailingChild(Workflow):
        def id(self) -> str:
            return "FailingChild"

        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(Child.double).on_error(WorkflowStep.TERMINATE)

    register(scenario, FailingChild())
    workflow_id = scenario.run(Parent("FailingChild"), {"value": 1, "fail": True})
    instance = scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    assert "parent_done" not in instance.data
    [message] = scenario.errors(workflow_id)
    assert "FailingChild" in message and "terminated" in message


def test_child_terminated_by_the_host_fails_the_parent_step(scenario: Scenario) -> None:
    register(scenario, WaitingChild())
    key = uuid.uuid4().hex
    workflow_id = scenario.run(Parent("WaitingChild"), {"value": 1, "key": key})
    scenario.wait_for_subscription("release", key)
    [child] = [
        instance
        for instance in scenario.host.persistence_service.get_workflow_instances(
            definition_id="WaitingChild", take=1000
        )
        if instance.parent_workflow_id == workflow_id
    ]
    assert scenario.host.terminate_workflow(child.id) is True
    scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
