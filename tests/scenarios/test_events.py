"""External events: waiting, delivery rules, ordering, and that waiting costs nothing."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from liteflow.core import (
    ExecutionPointer,
    ExecutionResult,
    InvalidArgumentError,
    MemoryPersistenceProvider,
    QueueType,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStep,
)
from liteflow.core.changes import WorkflowChanges
from liteflow.core.clock import utcnow
from tests.support import Scenario, running_host, wait_until


class Noop(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class EventData:
    def __init__(self, key: str = "key1") -> None:
        self.key = key
        self.captured: Any = None
        self.second: Any = None


class WaitWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop).wait_for("approval", lambda data, context: data.key).output(
            "captured", lambda step: step.event_data
        ).then(Noop)


class WaitTwiceWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop).wait_for("ping", lambda data, context: data.key).output(
            "captured", lambda step: step.event_data
        ).wait_for("ping", lambda data, context: data.key).output("second", lambda step: step.event_data)


class EarlyWaitWorkflow(Workflow):
    """Waits with an as-of time an hour in the past."""

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop).wait_for(
            "approval",
            lambda data, context: data.key,
            lambda data, context: utcnow() - timedelta(hours=1),
        ).output("captured", lambda step: step.event_data)


def unique_key() -> str:
    return uuid.uuid4().hex


def test_wait_for_resumes_on_the_event_and_captures_its_data(scenario: Scenario) -> None:
    data = EventData(unique_key())
    workflow_id = scenario.run(WaitWorkflow(), data)
    scenario.wait_for_subscription("approval", data.key)
    assert scenario.instance(workflow_id).status == WorkflowInstance.RUNNABLE
    scenario.host.publish_event("approval", data.key, {"by": "ann"})
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data.captured == {"by": "ann"}


def test_event_for_another_key_does_not_wake_the_workflow(scenario: Scenario) -> None:
    data = EventData(unique_key())
    workflow_id = scenario.run(WaitWorkflow(), data)
    scenario.wait_for_subscription("approval", data.key)
    event_id = scenario.host.publish_event("approval", "some-other-key", "nope")
    wait_until(lambda: scenario.host.persistence_service.get_event(event_id).is_processed, what="processing")
    instance = scenario.instance(workflow_id)
    assert instance.status == WorkflowInstance.RUNNABLE
    assert instance.data.captured is None


def test_event_reaches_every_workflow_waiting_for_it(scenario: Scenario) -> None:
    key = unique_key()
    ids = [scenario.run(WaitWorkflow(), EventData(key)) for _ in range(3)]
    wait_until(
        lambda: len(scenario.host.persistence_service.get_subscriptions("approval", key, utcnow())) == 3,
        what="three subscriptions",
    )
    scenario.host.publish_event("approval", key, "all")
    assert [scenario.wait_for_completion(workflow_id).data.captured for workflow_id in ids] == ["all"] * 3


def test_event_is_delivered_once_to_one_subscription(scenario: Scenario) -> None:
    data = EventData(unique_key())
    workflow_id = scenario.run(WaitTwiceWorkflow(), data)
    scenario.wait_for_subscription("ping", data.key)
    scenario.host.publish_event("ping", data.key, "first")
    wait_until(lambda: scenario.instance(workflow_id).data.captured == "first", what="first capture")
    scenario.wait_for_subscription("ping", data.key)
    time.sleep(0.1)
    instance = scenario.instance(workflow_id)
    assert instance.status == WorkflowInstance.RUNNABLE
    assert instance.data.second is None
    scenario.host.publish_event("ping", data.key, "second")
    assert scenario.wait_for_completion(workflow_id).data.second == "second"


def test_event_published_before_the_subscription_reaches_an_earlier_as_of(scenario: Scenario) -> None:
    data = EventData(unique_key())
    scenario.host.publish_event("approval", data.key, "early bird")
    workflow_id = scenario.run(EarlyWaitWorkflow(), data)
    assert scenario.wait_for_completion(workflow_id).data.captured == "early bird"


def test_event_published_before_a_later_as_of_is_kept_but_not_delivered(scenario: Scenario) -> None:
    data = EventData(unique_key())
    event_id = scenario.host.publish_event(
        "approval", data.key, "too early", effective_date=utcnow() - timedelta(minutes=5)
    )
    workflow_id = scenario.run(WaitWorkflow(), data)
    scenario.wait_for_subscription("approval", data.key)
    time.sleep(0.1)
    assert scenario.host.persistence_service.get_event(event_id) is not None
    assert scenario.instance(workflow_id).data.captured is None
    scenario.host.publish_event("approval", data.key, "on time")
    assert scenario.wait_for_completion(workflow_id).data.captured == "on time"


class OrderData:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}


BASE = datetime(2000, 1, 1, tzinfo=timezone.utc)


class EventOrderWorkflow(Workflow):
    """Workflow Core's EventOrder scenario: five waits, each with a later as-of time."""

    def __init__(self, key: str) -> None:
        self.key = key

    def build(self, builder: WorkflowBuilder) -> None:
        step = builder.start_with(Noop)
        for n in range(1, 6):
            step = step.wait_for("ordered", self.key, BASE + timedelta(minutes=n)).output(
                f"value{n}", lambda step: step.event_data
            )


def test_events_are_received_in_the_order_of_their_times(scenario: Scenario) -> None:
    key = unique_key()
    for n in range(1, 6):
        scenario.host.publish_event("ordered", key, n, BASE + timedelta(minutes=n, seconds=1))
    workflow_id = scenario.run(EventOrderWorkflow(key), {})
    data = scenario.wait_for_completion(workflow_id).data
    assert [data[f"value{n}"] for n in range(1, 6)] == [1, 2, 3, 4, 5]


def test_event_keys_match_as_text(scenario: Scenario) -> None:
    data = EventData("42")
    workflow_id = scenario.run(WaitWorkflow(), data)
    scenario.wait_for_subscription("approval", "42")
    scenario.host.publish_event("approval", 42, "numeric key")
    assert scenario.wait_for_completion(workflow_id).data.captured == "numeric key"


@pytest.mark.parametrize("name", ["", None, 7])
def test_publish_event_needs_a_name(memory_scenario: Scenario, name: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="event name"):
        memory_scenario.host.publish_event(name, "key")


class BytesKeyWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop).wait_for("approval", lambda data, context: b"42").then(Noop)


def test_a_key_function_returning_bytes_fails_its_step_with_the_reason(memory_scenario: Scenario) -> None:
    workflow_id = memory_scenario.run(BytesKeyWorkflow(), {})
    wait_until(lambda: memory_scenario.errors(workflow_id), what="the recorded error")
    assert "event key must be a str, int or UUID, got bytes" in memory_scenario.errors(workflow_id)[0]
    pointers = memory_scenario.instance(workflow_id).execution_pointers
    assert all(pointer.status != ExecutionPointer.WAITING for pointer in pointers)


def test_naive_effective_date_is_taken_as_utc(scenario: Scenario) -> None:
    data = EventData(unique_key())
    naive_past = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=1)
    scenario.host.publish_event("approval", data.key, "naive", naive_past)
    workflow_id = scenario.run(EarlyWaitWorkflow(), data)
    assert scenario.wait_for_completion(workflow_id).data.captured == "naive"


class CountingPersistence(MemoryPersistenceProvider):
    """The memory store, counting how often instances are written."""

    def __init__(self) -> None:
        super().__init__()
        self.persists = 0
        self._count_lock = threading.Lock()

    def persist_changes(self, changes: WorkflowChanges) -> None:
        with self._count_lock:
            self.persists += 1
        super().persist_changes(changes)


class CountingWait(StepBody):
    runs = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        CountingWait.runs += 1
        if context.execution_pointer.event_published:
            return ExecutionResult.next()
        return ExecutionResult.wait_for_event("go", context.workflow.data["key"])


class CountingWaitWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(CountingWait)


def test_waiting_workflows_are_not_executed_until_their_event() -> None:
    store = CountingPersistence()
    CountingWait.runs = 0
    with running_host(store, poll_interval=timedelta(milliseconds=50)) as host:
        scenario = Scenario(host)
        key = unique_key()
        ids = [scenario.run(CountingWaitWorkflow(), {"key": key}) for _ in range(20)]
        wait_until(
            lambda: len(store.get_subscriptions("go", key, utcnow())) == 20, what="twenty subscriptions"
        )
        persists_while_waiting = store.persists
        time.sleep(0.3)
        assert store.persists == persists_while_waiting
        assert CountingWait.runs == 20
        host.publish_event("go", key)
        for workflow_id in ids:
            scenario.wait_for_completion(workflow_id)
        assert CountingWait.runs == 40


def test_idle_host_with_waiting_workflows_uses_almost_no_cpu() -> None:
    with running_host() as host:
        scenario = Scenario(host)
        key = unique_key()
        for _ in range(200):
            scenario.run(WaitWorkflow(), EventData(key))
        wait_until(
            lambda: len(host.persistence_service.get_subscriptions("approval", key, utcnow())) == 200,
            what="two hundred subscriptions",
        )
        cpu_before = time.process_time()
        time.sleep(1.0)
        cpu_used = time.process_time() - cpu_before
        assert cpu_used < 0.1, f"an idle host used {cpu_used:.3f} s of CPU in 1 s"


class RecordingPersistence(MemoryPersistenceProvider):
    """The memory store, keeping each write's waiting pointers, the subscriptions and the
    number of errors sent with it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[set[str], set[str | None], int]] = []

    def persist_changes(self, changes: WorkflowChanges) -> None:
        pointers = changes.workflow.execution_pointers
        waiting = {p.id for p in pointers if p.status == ExecutionPointer.WAITING}
        subscribed = {s.execution_pointer_id for s in changes.subscriptions}
        self.writes.append((waiting, subscribed, len(changes.errors)))
        super().persist_changes(changes)


class FailingBranchAndWait(Workflow):
    """One branch fails (and retries) while the other starts waiting, in the same pass."""

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop).parallel().do(
            lambda branch: branch.start_with(self.fail_once).on_error(WorkflowStep.RETRY, 0.05)
        ).do(lambda branch: branch.start_with(self.wait_for_go)).join()

    @staticmethod
    def wait_for_go(context: StepExecutionContext) -> ExecutionResult | None:
        if context.execution_pointer.event_published:
            return None
        return ExecutionResult.wait_for_event("go", context.workflow.data["key"])

    @staticmethod
    def fail_once(context: StepExecutionContext) -> None:
        data = context.workflow.data
        if not data.get("failed"):
            data["failed"] = True
            raise RuntimeError("first attempt fails")


def test_subscription_is_stored_with_the_step_result_even_when_a_step_failed() -> None:
    store = RecordingPersistence()
    with running_host(store) as host:
        scenario = Scenario(host)
        key = unique_key()
        workflow_id = scenario.run(FailingBranchAndWait(), {"key": key})
        scenario.wait_for_subscription("go", key)
        first_wait = next(writes for writes in store.writes if writes[0])
        assert first_wait[0] == first_wait[1]
        assert first_wait[2] == 1  # the failure is recorded in the same write
        assert len(scenario.errors(workflow_id)) == 1
        host.publish_event("go", key)
        assert scenario.wait_for_completion(workflow_id).data["failed"] is True


def test_queueing_a_waiting_workflow_again_neither_runs_nor_stores_it() -> None:
    store = CountingPersistence()
    CountingWait.runs = 0
    with running_host(store) as host:
        scenario = Scenario(host)
        key = unique_key()
        workflow_id = scenario.run(CountingWaitWorkflow(), {"key": key})
        scenario.wait_for_subscription("go", key)
        persists = store.persists
        for _ in range(5):
            host.queue_service.queue_work(QueueType.WORKFLOW, workflow_id)
        wait_until(lambda: len(host.queue_service) == 0, what="the queue to drain")
        host.stop()
        assert store.persists == persists
        assert CountingWait.runs == 1
