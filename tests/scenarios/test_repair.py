"""Operators' repairs on the host: retry, skip and fork, each noted in the instance's history."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from liteflow.core import (
    ExecutionPointer,
    ExecutionResult,
    InvalidArgumentError,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowAction,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowNotRegisteredError,
    WorkflowStateError,
    WorkflowStep,
    configure_workflow_host,
)
from liteflow.core.lifecycle import (
    LifecycleEvent,
    StepSkipped,
    WorkflowForked,
    WorkflowResumed,
    WorkflowRetried,
)
from tests.support import Scenario, wait_until

#: Orders whose `Charge` step fails: the payment service is down for them.
BROKEN: set[str] = set()


def ran(name: str) -> Any:
    def step(context: StepExecutionContext) -> None:
        context.workflow.data["ran"].append(name)

    return step


class Charge(StepBody):
    def __init__(self) -> None:
        self.receipt: str | None = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = context.workflow.data
        data["ran"].append("charge")
        if data["order"] in BROKEN:
            raise ConnectionError("payment service down")
        self.receipt = f"receipt-{data['order']}"
        return ExecutionResult.next()


class Order(Workflow):
    """reserve -> charge (on failure: SUSPEND, TERMINATE or RETRY in an hour) -> ship."""

    def __init__(self, behavior: int = WorkflowStep.SUSPEND) -> None:
        self._behavior = behavior

    def id(self) -> str:
        return f"Order-{self._behavior}"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(ran("reserve")).name("reserve").then(Charge).name("charge").on_error(
            self._behavior, timedelta(hours=1)
        ).output("receipt", lambda step: step.receipt).then(ran("ship")).name("ship")


class Batch(Workflow):
    """start -> for each of two items: pack -> charge (SUSPEND on failure) -> end."""

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(ran("start")).for_each(lambda data: ["a", "b"]).do(
            lambda each: each.start_with(ran("pack")).name("pack")
        ).then(Charge).name("charge").on_error(WorkflowStep.SUSPEND).then(ran("end"))


class ChargeItem(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = context.workflow.data
        data["ran"].append(f"charge {context.item}")
        if f"{data['order']}:{context.item}" in BROKEN:
            raise ConnectionError("payment service down")
        return ExecutionResult.next()


class ChargeEach(Workflow):
    """for each of a, b: charge it (SUSPEND on failure) -> end."""

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(ran("start")).for_each(lambda data: ["a", "b"]).do(
            lambda each: each.start_with(ChargeItem).name("charge item").on_error(WorkflowStep.SUSPEND)
        ).then(ran("end"))


@pytest.fixture
def order() -> Iterator[str]:
    """An order number the payment service fails for, until the test removes it from BROKEN."""
    number = uuid.uuid4().hex
    BROKEN.add(number)
    yield number
    BROKEN.discard(number)


def start(scenario: Scenario, workflow: Workflow, order: str, status: int | None = None) -> str:
    workflow_id = scenario.run(workflow, {"order": order, "ran": []})
    if status is not None:
        scenario.wait_for_status(workflow_id, status)
    return workflow_id


def failed_charge(scenario: Scenario, order: str, behavior: int = WorkflowStep.SUSPEND) -> str:
    """An order whose charge failed: suspended, terminated, or (RETRY) waiting an hour to retry."""
    if behavior == WorkflowStep.RETRY:
        workflow_id = start(scenario, Order(behavior), order)
        wait_until(lambda: scenario.errors(workflow_id), what="the charge to fail")
        return workflow_id
    status = WorkflowInstance.TERMINATED if behavior == WorkflowStep.TERMINATE else WorkflowInstance.SUSPENDED
    return start(scenario, Order(behavior), order, status)


def pointers_of(instance: WorkflowInstance, step_id: int) -> list[ExecutionPointer]:
    return [pointer for pointer in instance.execution_pointers if pointer.step_id == step_id]


def events_of(scenario: Scenario) -> list[LifecycleEvent]:
    seen: list[LifecycleEvent] = []
    scenario.host.on_lifecycle_event(seen.append)
    return seen


# ------------------------------------------------------------------ retry


def test_retry_runs_the_failed_step_of_a_suspended_instance_again(scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(scenario, order)
    BROKEN.discard(order)
    scenario.host.retry_workflow(workflow_id, actor="ann")
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data["ran"] == ["reserve", "charge", "charge", "ship"]
    assert instance.data["receipt"] == f"receipt-{order}"
    [action] = instance.actions
    assert (action.action, action.actor, action.step_id) == (WorkflowAction.RETRY, "ann", None)
    assert "step 1 (charge)" in (action.detail or "")


def test_retry_brings_a_terminated_instance_back(scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(scenario, order, WorkflowStep.TERMINATE)
    assert scenario.instance(workflow_id).complete_time is not None
    BROKEN.discard(order)
    scenario.host.retry_workflow(workflow_id)
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data["ran"] == ["reserve", "charge", "charge", "ship"]
    assert instance.complete_time is not None and instance.complete_time > instance.actions[0].time


def test_a_retried_step_gets_fresh_attempts(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    memory_scenario.host.retry_workflow(workflow_id)
    instance = memory_scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
    wait_until(lambda: memory_scenario.instance(workflow_id).data["ran"].count("charge") == 2)
    [charge] = pointers_of(memory_scenario.instance(workflow_id), 1)
    assert charge.retry_count == 1
    assert instance.status == WorkflowInstance.SUSPENDED


def test_retry_from_a_named_step_runs_the_flow_again_from_there(scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(scenario, order)
    BROKEN.discard(order)
    scenario.host.retry_workflow(workflow_id, from_step="reserve", actor="ann")
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data["ran"] == ["reserve", "charge", "reserve", "charge", "ship"]
    assert [pointer.status for pointer in pointers_of(instance, 1)] == [
        ExecutionPointer.CANCELLED,
        ExecutionPointer.COMPLETE,
    ]
    assert instance.actions[0].step_id == 0


def test_retry_from_a_step_given_by_its_id(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    BROKEN.discard(order)
    memory_scenario.host.retry_workflow(workflow_id, from_step=1)
    assert memory_scenario.wait_for_completion(workflow_id).data["ran"] == [
        "reserve",
        "charge",
        "charge",
        "ship",
    ]


def test_retry_from_a_step_after_a_foreach(memory_scenario: Scenario, order: str) -> None:
    workflow_id = start(memory_scenario, Batch(), order, WorkflowInstance.SUSPENDED)
    BROKEN.discard(order)
    memory_scenario.host.retry_workflow(workflow_id, from_step="charge")
    instance = memory_scenario.wait_for_completion(workflow_id)
    assert instance.data["ran"] == ["start", "pack", "pack", "charge", "charge", "end"]


def test_retry_from_a_step_inside_a_running_foreach_keeps_its_item(
    memory_scenario: Scenario, order: str
) -> None:
    BROKEN.add(f"{order}:b")
    workflow_id = start(memory_scenario, ChargeEach(), order, WorkflowInstance.SUSPENDED)
    BROKEN.discard(f"{order}:b")
    memory_scenario.host.retry_workflow(workflow_id, from_step="charge item")
    instance = memory_scenario.wait_for_completion(workflow_id)
    assert instance.data["ran"] == ["start", "charge a", "charge b", "charge b", "end"]


def test_retry_from_a_step_of_a_finished_block_is_refused(memory_scenario: Scenario, order: str) -> None:
    workflow_id = start(memory_scenario, Batch(), order, WorkflowInstance.SUSPENDED)
    with pytest.raises(WorkflowStateError, match=r"step 2 \(pack\) ran inside the block of step 1"):
        memory_scenario.host.retry_workflow(workflow_id, from_step="pack")
    assert memory_scenario.instance(workflow_id).actions == []


@pytest.mark.parametrize("status", ["runnable", "complete"])
def test_retry_of_an_instance_that_is_not_stopped_is_refused(
    memory_scenario: Scenario, order: str, status: str
) -> None:
    if status == "runnable":
        workflow_id = failed_charge(memory_scenario, order, WorkflowStep.RETRY)
    else:
        BROKEN.discard(order)
        workflow_id = start(memory_scenario, Order(), order, WorkflowInstance.COMPLETE)
    before = memory_scenario.instance(workflow_id)
    with pytest.raises(WorkflowStateError, match=f"is {status}: only a suspended or terminated instance"):
        memory_scenario.host.retry_workflow(workflow_id)
    after = memory_scenario.instance(workflow_id)
    assert (after.status, after.actions, len(after.execution_pointers)) == (
        before.status,
        [],
        len(before.execution_pointers),
    )


def test_retry_without_a_failed_step_asks_for_one(memory_scenario: Scenario, order: str) -> None:
    BROKEN.discard(order)
    workflow_id = start(memory_scenario, WaitsForApproval(), order)
    memory_scenario.wait_for_subscription("approved", order)
    memory_scenario.host.suspend_workflow(workflow_id)
    with pytest.raises(WorkflowStateError, match="no failed step to run again; name the step"):
        memory_scenario.host.retry_workflow(workflow_id)


class WaitsForApproval(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(ran("asked")).wait_for("approved", lambda data: data["order"]).then(ran("done"))


def test_an_unknown_step_is_refused_naming_the_steps(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    with pytest.raises(InvalidArgumentError, match=r"no step named 'refund'.*step 0 \(reserve\)"):
        memory_scenario.host.retry_workflow(workflow_id, from_step="refund")
    with pytest.raises(InvalidArgumentError, match="has no step 9"):
        memory_scenario.host.retry_workflow(workflow_id, from_step=9)


def test_retry_is_told_to_lifecycle_handlers(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    seen = events_of(memory_scenario)
    BROKEN.discard(order)
    memory_scenario.host.retry_workflow(workflow_id, from_step="charge", actor="ann")
    memory_scenario.wait_for_completion(workflow_id)
    retried = wait_until(lambda: [event for event in seen if isinstance(event, WorkflowRetried)])
    assert (retried[0].workflow_instance_id, retried[0].step_id, retried[0].actor) == (workflow_id, 1, "ann")
    assert isinstance(retried[0], WorkflowResumed)


# ------------------------------------------------------------------ skip


def test_skip_marks_the_failed_step_skipped_and_moves_on(scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(scenario, order)
    scenario.host.skip_step(workflow_id, "charge", actor="bob")
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data["ran"] == ["reserve", "charge", "ship"]
    assert "receipt" not in instance.data  # a skipped step's outputs are not applied
    [charge] = pointers_of(instance, 1)
    assert charge.status == ExecutionPointer.SKIPPED and charge.end_time is not None
    [action] = instance.actions
    assert (action.action, action.actor, action.step_id) == (WorkflowAction.SKIP, "bob", 1)


def test_skip_of_a_step_waiting_to_be_retried(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order, WorkflowStep.RETRY)
    memory_scenario.host.skip_step(workflow_id, 1)
    assert memory_scenario.wait_for_completion(workflow_id).data["ran"] == ["reserve", "charge", "ship"]


def test_skip_of_a_step_that_did_not_fail_is_refused(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    with pytest.raises(WorkflowStateError, match=r"step 0 \(reserve\) of workflow .* has not failed"):
        memory_scenario.host.skip_step(workflow_id, "reserve")
    assert memory_scenario.instance(workflow_id).status == WorkflowInstance.SUSPENDED


def test_skip_is_told_to_lifecycle_handlers(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    seen = events_of(memory_scenario)
    memory_scenario.host.skip_step(workflow_id, "charge", actor="bob")
    memory_scenario.wait_for_completion(workflow_id)
    told = wait_until(lambda: [e for e in seen if isinstance(e, (StepSkipped, WorkflowResumed))][:2])
    assert [type(event) for event in told] == [StepSkipped, WorkflowResumed]
    assert (told[0].step_name, told[0].actor) == ("charge", "bob")  # type: ignore[attr-defined]


def test_skip_needs_the_definition(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    bare = configure_workflow_host(memory_scenario.host.persistence_service)
    with pytest.raises(WorkflowNotRegisteredError, match="Order-1"):
        bare.skip_step(workflow_id, "charge")


# ------------------------------------------------------------------ fork


def test_fork_starts_a_new_instance_at_a_step_with_the_data(scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(scenario, order)
    BROKEN.discard(order)
    forked_id = scenario.host.fork_workflow(workflow_id, "charge", actor="cy")
    forked = scenario.wait_for_completion(forked_id)
    assert forked.data["ran"] == ["reserve", "charge", "charge", "ship"]
    assert [pointer.step_id for pointer in forked.execution_pointers] == [1, 2]
    original = scenario.instance(workflow_id)
    assert original.status == WorkflowInstance.SUSPENDED
    assert original.data["ran"] == ["reserve", "charge"]
    assert [(a.action, a.other_workflow_id, a.actor) for a in original.actions] == [
        (WorkflowAction.FORK, forked_id, "cy")
    ]
    assert [(a.action, a.other_workflow_id, a.step_id) for a in forked.actions] == [
        (WorkflowAction.FORKED_FROM, workflow_id, 1)
    ]


def test_fork_at_a_step_inside_a_block_is_refused(memory_scenario: Scenario, order: str) -> None:
    workflow_id = start(memory_scenario, Batch(), order, WorkflowInstance.SUSPENDED)
    with pytest.raises(InvalidArgumentError, match=r"step 2 \(pack\) is inside the block of step 1"):
        memory_scenario.host.fork_workflow(workflow_id, "pack")


def test_fork_is_told_as_a_start(memory_scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    seen = events_of(memory_scenario)
    forked_id = memory_scenario.host.fork_workflow(workflow_id, 0)
    [forked] = wait_until(lambda: [event for event in seen if isinstance(event, WorkflowForked)])
    assert (forked.workflow_instance_id, forked.source_workflow_id, forked.step_id) == (
        forked_id,
        workflow_id,
        0,
    )


# ------------------------------------------------------------------ history


def test_status_changes_are_noted_with_their_actor_in_order(scenario: Scenario, order: str) -> None:
    BROKEN.discard(order)
    workflow_id = start(scenario, WaitsForApproval(), order)
    scenario.wait_for_subscription("approved", order)
    assert scenario.host.suspend_workflow(workflow_id, actor="ann")
    assert scenario.host.resume_workflow(workflow_id)
    assert scenario.host.terminate_workflow(workflow_id, actor="bob")
    assert not scenario.host.terminate_workflow(workflow_id, actor="bob")
    history = scenario.instance(workflow_id).actions
    assert [(action.action, action.actor) for action in history] == [
        (WorkflowAction.SUSPEND, "ann"),
        (WorkflowAction.RESUME, None),
        (WorkflowAction.TERMINATE, "bob"),
    ]
    assert history[0].time <= history[1].time <= history[2].time


@pytest.mark.parametrize("actor", [42, "", "x" * 201])
def test_an_actor_that_is_not_short_text_is_refused(
    memory_scenario: Scenario, order: str, actor: Any
) -> None:
    workflow_id = failed_charge(memory_scenario, order)
    with pytest.raises(InvalidArgumentError, match="actor must be text"):
        memory_scenario.host.retry_workflow(workflow_id, actor=actor)
    assert memory_scenario.instance(workflow_id).status == WorkflowInstance.SUSPENDED


def test_a_failed_steps_error_keeps_its_traceback(scenario: Scenario, order: str) -> None:
    workflow_id = failed_charge(scenario, order)
    [error] = scenario.host.persistence_service.get_errors(workflow_id)
    assert error.message == "ConnectionError: payment service down"
    assert error.traceback is not None
    assert error.traceback.startswith("Traceback (most recent call last):")
    assert 'raise ConnectionError("payment service down")' in error.traceback
