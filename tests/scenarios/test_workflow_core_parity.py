"""Workflow Core's own scenarios: outcomes, decisions, parallel, sagas, cancel, attach, end."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from liteflow.core import (
    ExecutionPointer,
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStep,
)
from tests.support import Scenario, wait_until


def tick(name: str, result: Any = None) -> Any:
    """An inline step counting its runs in data[name] (and returning `result`)."""

    def step(context: StepExecutionContext) -> Any:
        data = context.workflow.data
        data[name] = data.get(name, 0) + 1
        return result

    step.__qualname__ = f"tick_{name}"
    return step


def order(name: str) -> Any:
    """An inline step appending `name` to data['order']."""

    def step(context: StepExecutionContext) -> None:
        context.workflow.data.setdefault("order", []).append(name)

    step.__qualname__ = f"order_{name}"
    return step


class AddNumbers(StepBody):
    def __init__(self) -> None:
        self.input1 = 0
        self.input2 = 0
        self.output = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        self.output = self.input1 + self.input2
        return ExecutionResult.next()


class SubtractNumbers(AddNumbers):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        self.output = self.input1 - self.input2
        return ExecutionResult.next()


class DecisionWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        add = (
            builder.create_branch()
            .start_with(AddNumbers)
            .input("input1", lambda data: data["value1"])
            .input("input2", lambda data: data["value2"])
            .output("value3", lambda step: step.output)
        )
        subtract = (
            builder.create_branch()
            .start_with(SubtractNumbers)
            .input("input1", lambda data: data["value1"])
            .input("input2", lambda data: data["value2"])
            .output("value3", lambda step: step.output)
        )
        builder.start_with(tick("started")).decide(lambda data: data["op"]).branch("+", add).branch(
            "-", subtract
        )


def test_decision_takes_the_add_branch(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(
        scenario.run(DecisionWorkflow(), {"op": "+", "value1": 2, "value2": 3})
    ).data
    assert data["value3"] == 5


def test_decision_takes_the_subtract_branch(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(
        scenario.run(DecisionWorkflow(), {"op": "-", "value1": 2, "value2": 3})
    ).data
    assert data["value3"] == -1


class OutcomeForkWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        task_a = builder.start_with(tick("a", ExecutionResult.outcome(True)))
        task_a.when(False).then(tick("b"))
        task_a.when(True).then(tick("c"))


def test_fork_follows_only_the_matching_outcome(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(OutcomeForkWorkflow(), {})).data
    assert (data.get("a"), data.get("b"), data.get("c")) == (1, None, 1)


def timed(name: str) -> Any:
    def step(context: StepExecutionContext) -> None:
        data = context.workflow.data
        data[name] = data.get(name, 0) + 1
        time.sleep(0.05)
        data["last_block"] = time.monotonic()

    return step


class WhenWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: ExecutionResult.outcome(2)).when(lambda data: 1).do(
            lambda then: then.start_with(timed("case1"))
        ).when(lambda data: 2).do(lambda then: then.start_with(timed("case2"))).when(2).do(
            lambda then: then.start_with(timed("case3"))
        ).then(lambda context: context.workflow.data.update(after=time.monotonic()))


def test_every_matching_when_runs_and_the_next_step_waits_for_them(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(WhenWorkflow(), {})).data
    assert (data.get("case1"), data["case2"], data["case3"]) == (None, 1, 1)
    assert data["after"] > data["last_block"]


class ParallelWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).parallel().do(
            lambda then: then.start_with(tick("s11")).then(tick("s12"))
        ).do(
            lambda then: (
                then.start_with(tick("s21"))
                .wait_for("MyEventInParallel", lambda data: data["key"])
                .then(tick("s22"))
            )
        ).do(lambda then: then.start_with(tick("s31")).then(tick("s32"))).join().then(tick("end"))


def test_parallel_branches_run_and_join_waits_for_the_event_branch(scenario: Scenario) -> None:
    key = uuid.uuid4().hex
    workflow_id = scenario.run(ParallelWorkflow(), {"key": key})
    scenario.wait_for_subscription("MyEventInParallel", key)
    wait_until(lambda: scenario.instance(workflow_id).data.get("s32") == 1, what="branch three")
    data = scenario.instance(workflow_id).data
    assert data["s12"] == 1 and "s22" not in data and "end" not in data
    scenario.host.publish_event("MyEventInParallel", key, "Pass")
    data = scenario.wait_for_completion(workflow_id).data
    assert [data[name] for name in ("start", "s11", "s12", "s21", "s22", "s31", "s32", "end")] == [1] * 8


class ParallelEventsWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        parallel = builder.start_with(tick("start")).parallel()
        for n in range(1, 6):
            parallel = parallel.do(
                lambda then, n=n: (
                    then.start_with(tick(f"before{n}"))
                    .wait_for(f"Event{n}", lambda data: data["key"])
                    .output(f"value{n}", lambda step: step.event_data)
                )
            )
        parallel.join().then(tick("end"))


def test_five_parallel_waits_join_after_all_five_events(scenario: Scenario) -> None:
    key = uuid.uuid4().hex
    workflow_id = scenario.run(ParallelEventsWorkflow(), {"key": key})
    for n in range(1, 6):
        scenario.wait_for_subscription(f"Event{n}", key)
    for n in (3, 1, 5, 2):
        scenario.host.publish_event(f"Event{n}", key, n)
    wait_until(lambda: scenario.instance(workflow_id).data.get("value2") == 2, what="four events")
    assert "end" not in scenario.instance(workflow_id).data
    scenario.host.publish_event("Event4", key, 4)
    data = scenario.wait_for_completion(workflow_id).data
    assert [data[f"value{n}"] for n in range(1, 6)] == [1, 2, 3, 4, 5]
    assert data["end"] == 1


class CancelledEventWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).parallel().do(
            lambda branch: (
                branch.start_with(tick("b1"))
                .wait_for("Event1", lambda data, context: context.workflow.id)
                .output("value", lambda step: step.event_data)
                .cancel_condition(lambda data: bool(data.get("value")))
                .then(tick("event1_fired"))
            )
        ).do(
            lambda branch: (
                branch.start_with(tick("b2"))
                .wait_for("Event2", lambda data, context: context.workflow.id)
                .output("value", lambda step: step.event_data)
                .cancel_condition(lambda data: bool(data.get("value")))
                .then(tick("event2_fired"))
            )
        ).join().wait_for("Event3", lambda data, context: context.workflow.id)


def test_cancel_condition_stops_a_waiting_step_and_its_branch(scenario: Scenario) -> None:
    workflow_id = scenario.run(CancelledEventWorkflow(), {})
    scenario.wait_for_subscription("Event1", workflow_id)
    scenario.wait_for_subscription("Event2", workflow_id)
    scenario.host.publish_event("Event2", workflow_id, "Pass")
    scenario.wait_for_subscription("Event3", workflow_id)
    scenario.host.publish_event("Event1", workflow_id, "Fail")
    scenario.host.publish_event("Event3", workflow_id)
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data["value"] == "Pass"
    assert "event1_fired" not in instance.data and instance.data["event2_fired"] == 1
    statuses = {p.status for p in instance.execution_pointers if p.event_name == "Event1"}
    assert statuses == {ExecutionPointer.CANCELLED}
    assert scenario.errors(workflow_id) == []


class CancelProceedWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).parallel().do(
            lambda branch: branch.start_with(
                lambda context: None if context.persistence_data else ExecutionResult.sleep(0.2, "slept")
            ).then(lambda context: context.workflow.data.update(stop=True))
        ).do(
            lambda branch: (
                branch.start_with(tick("b2"))
                .wait_for("never", "never")
                .cancel_condition(lambda data: data.get("stop", False), proceed_after_cancel=True)
                .then(tick("after_cancel"))
            )
        ).join()


def test_cancel_condition_with_proceed_moves_on_after_the_step(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(CancelProceedWorkflow(), {})).data
    assert data["after_cancel"] == 1


class CompensationWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).then(self.risky).compensate_with(tick("compensated")).then(
            tick("tail")
        )

    @staticmethod
    def risky(context: StepExecutionContext) -> None:
        data = context.workflow.data
        data["event1"] = True
        if data["throw"]:
            raise RuntimeError("risky step failed")
        data["event2"] = True


def test_compensation_runs_when_the_step_fails_and_the_flow_continues(scenario: Scenario) -> None:
    workflow_id = scenario.run(CompensationWorkflow(), {"throw": True})
    data = scenario.wait_for_completion(workflow_id).data
    assert data["event1"] and "event2" not in data
    assert data["compensated"] == 1 and data["tail"] == 1
    assert len(scenario.errors(workflow_id)) == 1


def test_compensation_does_not_run_without_a_failure(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(CompensationWorkflow(), {"throw": False})).data
    assert data["event2"] and "compensated" not in data and data["tail"] == 1


class SagaWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).compensate_with(order("undo1")).saga(
            lambda saga: (
                saga.start_with(tick("first"))
                .compensate_with(order("undo2"))
                .then(self.risky)
                .compensate_with(order("undo3"))
                .then(tick("event3"))
                .compensate_with(order("undo4"))
            )
        ).compensate_with(order("undo5")).then(tick("tail")).compensate_with(order("undo6"))

    @staticmethod
    def risky(context: StepExecutionContext) -> None:
        data = context.workflow.data
        data["event1"] = True
        if data["throw"]:
            raise RuntimeError("saga step failed")
        data["event2"] = True


def test_saga_compensates_its_completed_steps_and_continues_after_the_saga(scenario: Scenario) -> None:
    workflow_id = scenario.run(SagaWorkflow(), {"throw": True})
    instance = scenario.wait_for_completion(workflow_id)
    data = instance.data
    assert data["event1"] and "event2" not in data and "event3" not in data
    assert data["order"] == ["undo3", "undo2", "undo5"]
    assert data["tail"] == 1
    assert len(scenario.errors(workflow_id)) == 1


def test_saga_without_a_failure_compensates_nothing(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(SagaWorkflow(), {"throw": False})).data
    assert data["event2"] and data["event3"] == 1 and data["tail"] == 1
    assert "order" not in data


def counted(name: str) -> Any:
    def step(context: StepExecutionContext) -> None:
        data = context.workflow.data
        data["counter"] = data.get("counter", 0) + 1
        data[name] = data["counter"]

    step.__qualname__ = f"counted_{name}"
    return step


def fail(context: StepExecutionContext) -> None:
    raise RuntimeError("last step failed")


class MultistepCompensationWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).saga(
            lambda saga: (
                saga.start_with(tick("s1"))
                .compensate_with(counted("c1"))
                .if_(lambda data: True)
                .do(
                    lambda inner: inner.start_with(tick("s2")).compensate_with_sequence(
                        lambda seq: seq.start_with(counted("c2")).then(tick("c2_second"))
                    )
                )
                .then(tick("s3"))
                .compensate_with(counted("c3"))
                .then(fail)
                .compensate_with(counted("c4"))
            )
        )


def test_compensations_run_in_reverse_order_one_after_another(scenario: Scenario) -> None:
    workflow_id = scenario.run(MultistepCompensationWorkflow(), {})
    data = scenario.wait_for_completion(workflow_id).data
    assert (data["c4"], data["c3"], data["c1"]) == (1, 2, 3)
    assert "c2" not in data
    assert len(scenario.errors(workflow_id)) == 1


class SequenceCompensationWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).saga(
            lambda saga: (
                saga.start_with(tick("s1"))
                .compensate_with(counted("c1"))
                .then(tick("s2"))
                .compensate_with_sequence(lambda seq: seq.start_with(counted("c2a")).then(counted("c2b")))
                .then(tick("s3"))
                .compensate_with(counted("c3"))
                .then(fail)
                .compensate_with(counted("c4"))
            )
        )


def test_compensation_sequences_run_whole_in_their_turn(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(SequenceCompensationWorkflow(), {})).data
    assert [data[name] for name in ("c4", "c3", "c2a", "c2b", "c1")] == [1, 2, 3, 4, 5]


def flaky(context: StepExecutionContext) -> None:
    data = context.workflow.data
    data["event1"] = data.get("event1", 0) + 1
    if data["event1"] < 3:
        raise RuntimeError(f"attempt {data['event1']} failed")
    data["event2"] = data.get("event2", 0) + 1


class RetrySagaWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).compensate_with(tick("c1")).saga(
            lambda saga: (
                saga.start_with(tick("first"))
                .compensate_with(tick("c2"))
                .then(flaky)
                .compensate_with(tick("c3"))
                .then(tick("event3"))
                .compensate_with(tick("c4"))
            )
        ).on_error(WorkflowStep.RETRY, timedelta(milliseconds=50)).then(tick("tail"))


def test_retry_saga_compensates_then_retries_the_whole_saga(scenario: Scenario) -> None:
    workflow_id = scenario.run(RetrySagaWorkflow(), {})
    data = scenario.wait_for_completion(workflow_id).data
    assert (data["event1"], data["event2"], data["event3"], data["first"]) == (3, 1, 1, 3)
    assert (data.get("c1"), data["c2"], data["c3"], data.get("c4")) == (None, 2, 2, None)
    assert data["tail"] == 1
    assert len(scenario.errors(workflow_id)) == 2


class NestedRetrySagaWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).compensate_with(tick("c1")).saga(
            lambda saga: (
                saga.start_with(tick("first"))
                .compensate_with(tick("c2"))
                .if_(lambda data: True)
                .do(lambda inner: inner.start_with(flaky).compensate_with(tick("c3")))
                .then(tick("event3"))
                .compensate_with(tick("c4"))
            )
        ).on_error(WorkflowStep.RETRY, timedelta(milliseconds=50)).then(tick("tail"))


def test_nested_retry_saga_succeeds_on_the_third_attempt_with_two_errors(scenario: Scenario) -> None:
    workflow_id = scenario.run(NestedRetrySagaWorkflow(), {})
    instance = scenario.wait_for_completion(workflow_id)
    data = instance.data
    assert (data["event1"], data["event2"], data["event3"]) == (3, 1, 1)
    assert (data.get("c1"), data["c2"], data["c3"], data.get("c4")) == (None, 2, 2, None)
    assert data["tail"] == 1
    assert len(scenario.errors(workflow_id)) == 2


class FailingSagaWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).saga(
            lambda saga: (
                saga.start_with(tick("first"))
                .if_(lambda data: True)
                .do(lambda inner: inner.start_with(self.always_fails))
                .then(tick("event2"))
            )
        ).on_error(WorkflowStep.TERMINATE).then(tick("event3"))

    @staticmethod
    def always_fails(context: StepExecutionContext) -> None:
        data = context.workflow.data
        data["event1"] = data.get("event1", 0) + 1
        raise RuntimeError("always fails")


def test_saga_with_terminate_ends_the_workflow(scenario: Scenario) -> None:
    workflow_id = scenario.run(FailingSagaWorkflow(), {})
    instance = scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    assert instance.data["event1"] == 1
    assert "event2" not in instance.data and "event3" not in instance.data
    assert len(scenario.errors(workflow_id)) == 1


class ForeachSyncWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).for_each(lambda data: [1, 2, 3, 4], run_parallel=False).do(
            lambda each: (
                each.start_with(
                    lambda context: context.workflow.data.setdefault("seen", []).append(context.item)
                )
                .delay(lambda data: timedelta(milliseconds=20))
                .then(lambda context: context.workflow.data.setdefault("done", []).append(context.item))
            )
        ).then(tick("end"))


def test_sequential_foreach_keeps_collection_order(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(ForeachSyncWorkflow(), {})).data
    assert data["seen"] == [1, 2, 3, 4] and data["done"] == [1, 2, 3, 4]
    assert data["end"] == 1


class AttachWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("step1")).id("step1").if_(lambda data: data["step1"] < 4).do(
            lambda then: then.start_with(tick("step2")).attach("step1")
        )


def test_attach_jumps_back_to_a_named_step(scenario: Scenario) -> None:
    workflow_id = scenario.run(AttachWorkflow(), {})
    data = scenario.wait_for_completion(workflow_id).data
    assert (data["step1"], data["step2"]) == (4, 3)
    assert scenario.errors(workflow_id) == []


class EndStepWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(tick("start")).while_(lambda data: True).do(
            lambda loop: loop.start_with(tick("mid")).end_workflow()
        ).then(tick("end"))


def test_end_workflow_completes_from_inside_a_loop(scenario: Scenario) -> None:
    data = scenario.wait_for_completion(scenario.run(EndStepWorkflow(), {})).data
    assert (data["start"], data["mid"], data.get("end")) == (1, 1, None)


class DefaultBehaviourWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.use_default_error_behavior(WorkflowStep.SUSPEND)
        builder.start_with(fail)


def test_default_error_behaviour_applies_to_steps_without_their_own(scenario: Scenario) -> None:
    workflow_id = scenario.run(DefaultBehaviourWorkflow(), {})
    scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
