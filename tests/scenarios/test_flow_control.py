"""Idempotent starts and waiting for the first of several events (issue 16)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from liteflow.core import (
    WAIT_TIMEOUT,
    InstanceIdConflictError,
    InvalidArgumentError,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowDefinitionError,
    WorkflowInstance,
)
from liteflow.core.clock import MAX_TIME
from tests.support import Scenario, wait_until

RUNS: list[str] = []


class Order(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: RUNS.append(context.workflow.id))


class Refund(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None)


def _path(name: str) -> Any:
    def record(context: StepExecutionContext) -> None:
        context.workflow.data["path"].append(name)

    return record


class Approval(Workflow):
    """Waits for "approved" or "rejected" (keyed by the request), or gives up after a while."""

    def build(self, builder: WorkflowBuilder) -> None:
        key = lambda data: data["request"]  # noqa: E731
        (
            builder.start_with(_path("asked"))
            .wait_for_any([("approved", key), ("rejected", key)], timeout=timedelta(seconds=1))
            .output("answer", lambda step: step.event_data)
            .when("approved")
            .do(lambda then: then.start_with(_path("approved")))
            .when("rejected")
            .do(lambda then: then.start_with(_path("rejected")))
            .when(WAIT_TIMEOUT)
            .do(lambda then: then.start_with(_path("timed out")))
            .then(_path("done"))
        )


@pytest.fixture(autouse=True)
def no_runs() -> None:
    RUNS.clear()


def test_starting_an_instance_id_again_returns_it_and_starts_nothing(scenario: Scenario) -> None:
    host = scenario.host
    host.register_workflow(Order())
    assert host.start_workflow("Order", instance_id="order-42") == "order-42"
    scenario.wait_for_completion("order-42")
    assert host.start_workflow("Order", instance_id="order-42") == "order-42"
    assert [instance.id for instance in host.persistence_service.get_workflow_instances()] == ["order-42"]
    wait_until(lambda: RUNS == ["order-42"])


def test_threads_starting_one_instance_id_at_once_start_one_instance(scenario: Scenario) -> None:
    host = scenario.host
    host.register_workflow(Order())
    barrier = threading.Barrier(8)
    returned: list[str] = []

    def start() -> None:
        barrier.wait()
        returned.append(host.start_workflow("Order", instance_id="order-7"))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    scenario.wait_for_completion("order-7")
    assert returned == ["order-7"] * 8
    assert len(host.persistence_service.get_workflow_instances()) == 1
    assert RUNS == ["order-7"]


def test_an_instance_id_taken_by_another_workflow_is_refused(memory_scenario: Scenario) -> None:
    host = memory_scenario.host
    host.register_workflow(Order())
    host.register_workflow(Refund())
    host.start_workflow("Order", instance_id="42")
    with pytest.raises(InstanceIdConflictError, match="'42' belongs to an instance of workflow 'Order'"):
        host.start_workflow("Refund", instance_id="42")


@pytest.mark.parametrize("instance_id", ["", "  ", 42, "x" * 201, "\ud800"])
def test_a_bad_instance_id_is_refused_before_anything_is_stored(
    memory_scenario: Scenario, instance_id: Any
) -> None:
    host = memory_scenario.host
    host.register_workflow(Order())
    with pytest.raises(InvalidArgumentError, match="instance_id"):
        host.start_workflow("Order", instance_id=instance_id)
    assert host.persistence_service.get_workflow_instances() == []


@pytest.mark.parametrize("event", ["approved", "rejected"])
def test_wait_for_any_completes_with_the_first_event_and_branches_on_its_name(
    scenario: Scenario, event: str
) -> None:
    host = scenario.host
    workflow_id = scenario.run(Approval(), {"request": "r1", "path": []})
    scenario.wait_for_subscription("approved", "r1")
    scenario.wait_for_subscription("rejected", "r1")
    host.publish_event(event, "r1", {"by": "ann"})
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data["path"] == ["asked", event, "done"]
    assert instance.data["answer"] == {"by": "ann"}
    other = "rejected" if event == "approved" else "approved"
    host.publish_event(other, "r1", {"by": "bob"})  # too late: it reopens nothing
    wait_until(lambda: host.persistence_service.get_subscriptions(other, "r1", MAX_TIME) == [])
    again = scenario.instance(workflow_id)
    assert (again.status, again.data["path"]) == (WorkflowInstance.COMPLETE, ["asked", event, "done"])


def test_wait_for_any_times_out_when_no_event_comes(memory_scenario: Scenario) -> None:
    workflow_id = memory_scenario.run(Approval(), {"request": "r2", "path": []})
    instance = memory_scenario.wait_for_completion(workflow_id, timeout=5)
    assert instance.data["path"] == ["asked", "timed out", "done"]
    assert instance.data["answer"] is None


class ApprovalSince(Workflow):
    """Takes answers published from the given time on, also before it waits."""

    def build(self, builder: WorkflowBuilder) -> None:
        key = lambda data: data["request"]  # noqa: E731
        builder.start_with(_path("asked")).wait_for_any(
            [("approved", key), ("rejected", key)], effective_date=lambda data: data["since"]
        ).output("answer", lambda step: step.event_data)


def test_wait_for_any_takes_an_event_published_since_its_effective_date(memory_scenario: Scenario) -> None:
    host = memory_scenario.host
    host.register_workflow(ApprovalSince())
    since = host.clock.now()
    host.publish_event("rejected", "r3", "too expensive")
    data = {"request": "r3", "path": [], "since": since}
    instance = memory_scenario.wait_for_completion(host.start_workflow("ApprovalSince", data=data))
    assert instance.data["answer"] == "too expensive"


@pytest.mark.parametrize(
    "events",
    [[], "approved", [("approved",)], [("", "k")], [("approved", 1.5)]],
)
def test_wait_for_any_refuses_what_is_not_a_list_of_name_and_key(events: Any) -> None:
    class Bad(Workflow):
        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(lambda context: None).wait_for_any(events)

    from liteflow.core import configure_workflow_host

    with pytest.raises(WorkflowDefinitionError, match="wait_for_any"):
        configure_workflow_host().register_workflow(Bad())
