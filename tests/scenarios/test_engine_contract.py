"""The engine's contract: waits that wake at once, sagas that finish compensating before the flow
moves on, jumps that leave their blocks, and instances that cannot go on being suspended with an
error instead of running again and again. Each test checks when and in which order things
happened, not only what was stored at the end."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from liteflow.core import (
    ExecutionPointer,
    ExecutionResult,
    MemoryPersistenceProvider,
    ProviderError,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStep,
)
from liteflow.core.clock import utcnow
from liteflow.core.pointers import genesis_pointer
from liteflow.core.providers import QueueType
from tests.support import Scenario, running_host, sqlite_persistence, wait_until


def mark(name: str) -> Callable[[StepExecutionContext], None]:
    """An inline step appending (name, wall-clock time) to data['trace']."""

    def step(context: StepExecutionContext) -> None:
        context.workflow.data.setdefault("trace", []).append([name, time.time()])

    step.__qualname__ = f"mark_{name}"
    return step


def names(data: dict[str, Any]) -> list[str]:
    return [name for name, _ in data.get("trace", [])]


def at(data: dict[str, Any], name: str) -> float:
    [when] = [when for entry, when in data["trace"] if entry == name]
    return float(when)


def fail(context: StepExecutionContext) -> None:
    raise RuntimeError("boom")


def slow_mark(name: str, seconds: float) -> Callable[[StepExecutionContext], ExecutionResult | None]:
    """Sleeps `seconds` (as a workflow sleep, not a blocked thread), then marks."""

    def step(context: StepExecutionContext) -> ExecutionResult | None:
        if context.persistence_data is None:
            return ExecutionResult.sleep(timedelta(seconds=seconds), {"slept": True})
        mark(name)(context)
        return None

    step.__qualname__ = f"slow_{name}"
    return step


# ---------------------------------------------------------------- waits with a timeout


class WaitWithLongTimeout(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("before")).wait_for(
            "soon", lambda data, context: data["key"], timeout=timedelta(seconds=30)
        ).output("value", lambda step: step.event_data).then(mark("after"))


def test_a_wait_with_a_timeout_wakes_on_its_event_at_once(scenario: Scenario) -> None:
    key = uuid.uuid4().hex
    workflow_id = scenario.run(WaitWithLongTimeout(), {"key": key})
    scenario.wait_for_subscription("soon", key)
    published = time.time()
    scenario.host.publish_event("soon", key, "payload")
    data = scenario.wait_for_completion(workflow_id, timeout=10).data
    assert data["value"] == "payload"
    assert names(data) == ["before", "after"]
    assert at(data, "after") - published < 5  # the timeout was 30 s


class TimedWaitsInParallel(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("start")).parallel().do(
            lambda branch: branch.start_with(mark("a")).wait_for(
                "left", lambda data, context: data["key"], timeout=timedelta(seconds=30)
            )
        ).do(
            lambda branch: branch.start_with(mark("b")).wait_for(
                "right", lambda data, context: data["key"], timeout=timedelta(seconds=30)
            )
        ).join().then(mark("joined"))


def test_timed_waits_in_parallel_branches_each_wake_on_their_event(memory_scenario: Scenario) -> None:
    key = uuid.uuid4().hex
    workflow_id = memory_scenario.run(TimedWaitsInParallel(), {"key": key})
    memory_scenario.wait_for_subscription("left", key)
    memory_scenario.wait_for_subscription("right", key)
    published = time.time()
    memory_scenario.host.publish_event("left", key)
    memory_scenario.host.publish_event("right", key)
    data = memory_scenario.wait_for_completion(workflow_id, timeout=10).data
    assert names(data)[-1] == "joined"
    assert at(data, "joined") - published < 5


# ---------------------------------------------------------------- sagas


class SagaThenTail(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("before")).saga(
            lambda saga: (
                saga.start_with(mark("t1"))
                .compensate_with(mark("u1"))
                .then(fail)
                .compensate_with(mark("u2"))
                .then(mark("t3"))
                .compensate_with(mark("u3"))
            )
        ).then(mark("tail"))


def test_a_saga_moves_on_only_after_its_compensations_ran_in_reverse_order(scenario: Scenario) -> None:
    workflow_id = scenario.run(SagaThenTail(), {})
    data = scenario.wait_for_completion(workflow_id).data
    assert names(data) == ["before", "t1", "u2", "u1", "tail"]
    assert len(scenario.errors(workflow_id)) == 1


class SagaWithSlowCompensations(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("before")).saga(
            lambda saga: (
                saga.start_with(mark("t1"))
                .compensate_with_sequence(
                    lambda undo: undo.start_with(slow_mark("u1a", 0.2)).then(mark("u1b"))
                )
                .then(mark("t2"))
                .compensate_with(slow_mark("u2", 0.2))
                .then(fail)
            )
        ).then(mark("tail"))


def test_a_saga_waits_for_compensations_that_sleep_or_are_sequences(memory_scenario: Scenario) -> None:
    workflow_id = memory_scenario.run(SagaWithSlowCompensations(), {})
    data = memory_scenario.wait_for_completion(workflow_id).data
    assert names(data) == ["before", "t1", "t2", "u2", "u1a", "u1b", "tail"]
    assert at(data, "u1a") - at(data, "u2") >= 0.15  # one compensation after another
    assert at(data, "tail") >= at(data, "u1b")


class SagaRetried(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("before")).saga(
            lambda saga: (
                saga.start_with(mark("t1")).compensate_with(slow_mark("u1", 0.2)).then(self.fail_once)
            )
        ).on_error(WorkflowStep.RETRY, timedelta(milliseconds=10)).then(mark("tail"))

    @staticmethod
    def fail_once(context: StepExecutionContext) -> None:
        if not context.workflow.data.get("failed"):
            context.workflow.data["failed"] = True
            raise RuntimeError("first try fails")


def test_a_retried_saga_starts_again_only_after_its_compensation(memory_scenario: Scenario) -> None:
    data = memory_scenario.wait_for_completion(memory_scenario.run(SagaRetried(), {})).data
    assert names(data) == ["before", "t1", "u1", "t1", "tail"]


class SagaTerminating(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("before")).saga(
            lambda saga: saga.start_with(mark("t1")).compensate_with(slow_mark("u1", 0.1)).then(fail)
        ).on_error(WorkflowStep.TERMINATE).then(mark("tail"))


def test_a_terminating_saga_compensates_before_it_terminates(memory_scenario: Scenario) -> None:
    workflow_id = memory_scenario.run(SagaTerminating(), {})
    instance = memory_scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    assert names(instance.data) == ["before", "t1", "u1"]


class NestedSagas(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("before")).saga(
            lambda outer: (
                outer.start_with(mark("o1"))
                .compensate_with(mark("undo_o1"))
                .saga(lambda inner: inner.start_with(mark("i1")).compensate_with(mark("undo_i1")).then(fail))
                .then(mark("o2"))
            )
        ).then(mark("tail"))


def test_an_inner_saga_takes_its_failure_and_the_outer_saga_goes_on(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(NestedSagas(), {})).data
    assert names(data) == ["before", "o1", "i1", "undo_i1", "o2", "tail"]


class CompensatedStep(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("before")).then(fail).compensate_with(slow_mark("undo", 0.2)).then(
            mark("next")
        )


def test_the_step_after_a_compensated_step_runs_after_its_compensation(memory_scenario: Scenario) -> None:
    data = memory_scenario.wait_for_completion(memory_scenario.run(CompensatedStep(), {})).data
    assert names(data) == ["before", "undo", "next"]


# ---------------------------------------------------------------- jumps


def count(name: str) -> Callable[[StepExecutionContext], None]:
    def step(context: StepExecutionContext) -> None:
        data = context.workflow.data
        data[name] = data.get(name, 0) + 1

    step.__qualname__ = f"count_{name}"
    return step


class JumpOutOfIf(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(count("value")).id("top").if_(lambda data, context: data["value"] < 4).do(
            lambda then: then.start_with(count("inside")).attach("top")
        ).then(count("final"))


def test_attach_leaves_the_if_blocks_it_jumps_out_of(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(JumpOutOfIf(), {})).data
    assert (data["value"], data["inside"], data["final"]) == (4, 3, 1)


class JumpOutOfWhile(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(count("value")).id("top").while_(lambda data, context: True).do(
            lambda loop: (
                loop.start_with(count("inside"))
                .if_(lambda data, context: data["value"] < 3)
                .do(lambda then: then.start_with(count("jumps")).attach("top"))
                .end_workflow()
            )
        ).then(count("never"))


def test_attach_leaves_a_while_loop_it_jumps_out_of(memory_scenario: Scenario) -> None:
    data = memory_scenario.wait_for_completion(memory_scenario.run(JumpOutOfWhile(), {})).data
    assert (data["value"], data["inside"], data["jumps"]) == (3, 3, 2)
    assert "never" not in data


class JumpOutOfForeach(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(count("value")).id("top").for_each(
            lambda data, context: [1, 2, 3], run_parallel=False
        ).do(
            lambda each: (
                each.start_with(count("items"))
                .if_(lambda data, context: data["value"] < 2)
                .do(lambda then: then.start_with(count("jumps")).attach("top"))
            )
        ).then(count("final"))


def test_attach_leaves_a_foreach_it_jumps_out_of(memory_scenario: Scenario) -> None:
    data = memory_scenario.wait_for_completion(memory_scenario.run(JumpOutOfForeach(), {})).data
    # first pass: item 1 jumps back; second pass: all three items, then final once
    assert (data["value"], data["jumps"], data["items"], data["final"]) == (2, 1, 4, 1)


# ---------------------------------------------------------------- instances that cannot go on


class Unstorable:
    """Holds a lock: it cannot be stored as JSON."""

    def __init__(self) -> None:
        self.guard = threading.Lock()


class ChildLeavingUnstorableData(Workflow):
    runs = 0

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(self.spoil)

    @staticmethod
    def spoil(context: StepExecutionContext) -> None:
        ChildLeavingUnstorableData.runs += 1
        context.workflow.data["spoiled"] = Unstorable()


class ParentOfSpoiler(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("parent")).sub_workflow(
            "ChildLeavingUnstorableData", data=lambda data: {}
        ).then(mark("after"))


def test_a_child_whose_last_step_leaves_unstorable_data_is_suspended_once() -> None:
    ChildLeavingUnstorableData.runs = 0
    with sqlite_persistence() as store, running_host(store, poll_interval=0.2) as host:
        scenario = Scenario(host)
        host.register_workflow(ChildLeavingUnstorableData())
        parent_id = scenario.run(ParentOfSpoiler(), {})

        def child() -> WorkflowInstance | None:
            found = store.get_workflow_instances(definition_id="ChildLeavingUnstorableData")
            return found[0] if found and found[0].status == WorkflowInstance.SUSPENDED else None

        suspended = wait_until(child, what="the child to be suspended")
        [error] = scenario.errors(suspended.id)
        assert "SerializationError" in error and "lock" in error
        time.sleep(1.0)  # five poll intervals: a runnable child would have run again
        assert ChildLeavingUnstorableData.runs == 1
        assert scenario.instance(parent_id).status == WorkflowInstance.RUNNABLE


def test_an_instance_of_an_unregistered_version_is_suspended_with_an_error(scenario: Scenario) -> None:
    store = scenario.host.persistence_service
    instance = WorkflowInstance()
    instance.workflow_definition_id = "RetiredWorkflow"
    instance.version = 3
    instance.create_time = instance.next_execution = utcnow()
    instance.data = {}
    placeholder = WorkflowStep(mark("gone"))
    placeholder.id = 0
    instance.execution_pointers.append(genesis_pointer(placeholder))
    workflow_id = store.create_workflow(instance)
    scenario.host.queue_service.queue_work(QueueType.WORKFLOW, workflow_id)
    scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
    [error] = scenario.errors(workflow_id)
    assert "RetiredWorkflow" in error and "3" in error
    scenario.host.queue_service.queue_work(QueueType.WORKFLOW, workflow_id)
    time.sleep(0.2)
    assert len(scenario.errors(workflow_id)) == 1
    assert scenario.instance(workflow_id).execution_pointers[0].status == ExecutionPointer.PENDING


# ---------------------------------------------------------------- workers


class FlakyStore(MemoryPersistenceProvider):
    """Fails a worker's first load of each instance, as a store that dropped a connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: set[str] = set()
        self.closed = 0

    def get_workflow_instance(self, workflow_id: str) -> WorkflowInstance | None:
        if workflow_id not in self.failed and threading.current_thread().name.startswith("liteflow-"):
            self.failed.add(workflow_id)
            raise ProviderError("connection dropped")
        return super().get_workflow_instance(workflow_id)

    def close(self) -> None:
        self.closed += 1


class OneStep(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("only"))


def test_an_item_whose_handler_raised_is_tried_again_within_a_second() -> None:
    store = FlakyStore()
    with running_host(store, poll_interval=60) as host:
        host.register_workflow(OneStep())
        started = time.monotonic()
        workflow_id = host.start_workflow("OneStep", data={})
        Scenario(host).wait_for_completion(workflow_id)
        assert time.monotonic() - started < 2  # not the poller's 60 s
    assert store.closed == 1  # stop() closed the store


class Spinning(Workflow):
    """Always due: its loop never waits for anything."""

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(mark("start")).while_(lambda data, context: True).do(
            lambda loop: loop.start_with(count("turns"))
        )


def test_terminate_stops_a_workflow_that_is_always_due(memory_scenario: Scenario) -> None:
    workflow_id = memory_scenario.run(Spinning(), {})
    wait_until(
        lambda: memory_scenario.instance(workflow_id).data.get("turns", 0) > 50, what="the loop to spin"
    )
    asked = time.monotonic()
    assert memory_scenario.host.terminate_workflow(workflow_id) is True
    assert time.monotonic() - asked < 2  # the workers let go of it; the call waits up to 10 s
    turns = memory_scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED).data["turns"]
    time.sleep(0.1)
    assert memory_scenario.instance(workflow_id).data["turns"] == turns
