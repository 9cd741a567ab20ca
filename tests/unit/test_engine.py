"""Unit tests of the result processor and executor: pure state transitions, no threads."""

from __future__ import annotations

import logging
from datetime import timedelta

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
from liteflow.core.clock import SystemClock, utcnow
from liteflow.core.definition import RetryPolicy, WorkflowDefinition
from liteflow.core.executor import WorkflowExecutor, determine_next_execution
from liteflow.core.pointers import genesis_pointer
from liteflow.core.registry import WorkflowRegistry
from liteflow.core.result_processor import ExecutionReport, ResultProcessor

LOGGER = logging.getLogger("liteflow.tests")
NOW = utcnow()


class Noop(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class Boom(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        raise ValueError("boom")


class Chain(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop).then(Noop).for_each(lambda data: [1, 2]).do(lambda x: x.start_with(Noop))


def definition() -> WorkflowDefinition:
    return WorkflowRegistry().register_workflow(Chain())


def instance_at_first_step(definition: WorkflowDefinition) -> tuple[WorkflowInstance, ExecutionPointer]:
    instance = WorkflowInstance()
    instance.id = "w1"
    instance.workflow_definition_id = definition.id
    pointer = genesis_pointer(definition.steps[0])
    pointer.context_item = "item"
    pointer.scope = ["outer"]
    instance.execution_pointers.append(pointer)
    return instance, pointer


def process(
    result: ExecutionResult, step_index: int = 0
) -> tuple[WorkflowInstance, ExecutionPointer, ExecutionReport]:
    compiled = definition()
    instance, pointer = instance_at_first_step(compiled)
    pointer.step_id = step_index
    report = ExecutionReport(compiled)
    ResultProcessor(timedelta(seconds=60), LOGGER).process_result(
        instance, compiled, pointer, compiled.steps[step_index], result, report, NOW
    )
    return instance, pointer, report


def fail(
    step: WorkflowStep, retry_count: int = 0, compiled: WorkflowDefinition | None = None
) -> tuple[WorkflowInstance, ExecutionPointer, ExecutionReport]:
    compiled = compiled or definition()
    instance, pointer = instance_at_first_step(compiled)
    pointer.retry_count = retry_count
    report = ExecutionReport(compiled)
    ResultProcessor(timedelta(seconds=60), LOGGER).handle_error(
        instance, compiled, pointer, step, ValueError("boom"), report, NOW
    )
    return instance, pointer, report


def test_next_completes_the_pointer_and_starts_the_next_step_in_the_same_scope() -> None:
    instance, pointer, report = process(ExecutionResult.next())
    assert (pointer.active, pointer.status, pointer.end_time) == (False, ExecutionPointer.COMPLETE, NOW)
    [following] = instance.execution_pointers[1:]
    assert following.step_id == 1
    assert following.predecessor_id == pointer.id
    assert following.scope == ["outer"] and following.context_item == "item"
    assert report.subscriptions == [] and report.errors == []


def test_outcome_only_follows_matching_edges() -> None:
    compiled = definition()
    compiled.steps[0].outcomes[0].value = "yes"
    instance, pointer = instance_at_first_step(compiled)
    processor = ResultProcessor(timedelta(seconds=60), LOGGER)
    processor.process_result(
        instance,
        compiled,
        pointer,
        compiled.steps[0],
        ExecutionResult.outcome("no"),
        ExecutionReport(compiled),
        NOW,
    )
    assert len(instance.execution_pointers) == 1
    assert pointer.outcome == "no"


def test_sleep_sets_the_wake_up_time_and_keeps_the_pointer_active() -> None:
    _, pointer, _ = process(ExecutionResult.sleep(timedelta(seconds=5), {"n": 1}))
    assert pointer.sleep_until == NOW + timedelta(seconds=5)
    assert pointer.status == ExecutionPointer.SLEEPING
    assert pointer.active is True
    assert pointer.persistence_data == {"n": 1}


def test_wait_for_event_deactivates_the_pointer_and_reports_a_subscription() -> None:
    as_of = NOW - timedelta(minutes=1)
    instance, pointer, report = process(ExecutionResult.wait_for_event("approved", 17, as_of))
    assert (pointer.active, pointer.status) == (False, ExecutionPointer.WAITING)
    assert (pointer.event_name, pointer.event_key) == ("approved", "17")
    [subscription] = report.subscriptions
    assert subscription.workflow_id == instance.id
    assert subscription.execution_pointer_id == pointer.id
    assert (subscription.event_name, subscription.event_key) == ("approved", "17")
    assert subscription.subscribe_as_of == as_of


def test_wait_without_as_of_subscribes_from_now() -> None:
    _, _, report = process(ExecutionResult.wait_for_event("approved", "k"))
    assert report.subscriptions[0].subscribe_as_of == NOW


def test_branch_starts_one_child_per_value_and_none_inherits_the_item() -> None:
    instance, pointer, _ = process(
        ExecutionResult.branch(["a", None], {"children_active": True}), step_index=2
    )
    children = instance.execution_pointers[1:]
    assert [child.context_item for child in children] == ["a", "item"]
    assert all(child.scope == [pointer.id, "outer"] for child in children)
    assert pointer.children == [child.id for child in children]
    assert pointer.active is True and pointer.end_time is None


def test_error_with_retry_schedules_the_step_again_after_the_interval() -> None:
    step = definition().steps[0]
    step.error_behavior = WorkflowStep.RETRY
    step.retry_policy = RetryPolicy(interval=timedelta(seconds=2))
    instance, pointer, report = fail(step)
    assert pointer.sleep_until == NOW + timedelta(seconds=2)
    assert pointer.retry_count == 1
    assert instance.status == WorkflowInstance.RUNNABLE
    [error] = report.errors
    assert error.message == "ValueError: boom"
    assert (error.workflow_id, error.execution_pointer_id, error.error_time) == ("w1", pointer.id, NOW)


def test_retry_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(interval=timedelta(seconds=1), backoff=2.0, max_interval=timedelta(seconds=5))
    delays = [policy.delay_for(attempt, timedelta(seconds=60)) for attempt in range(1, 6)]
    assert delays == [timedelta(seconds=s) for s in (1, 2, 4, 5, 5)]


def test_retry_without_interval_uses_the_definition_then_host_default() -> None:
    compiled = definition()
    step = compiled.steps[0]
    _, pointer, _ = fail(step, compiled=compiled)
    assert pointer.sleep_until == NOW + timedelta(seconds=60)
    compiled.default_error_retry_interval = timedelta(seconds=7)
    _, pointer, _ = fail(step, compiled=compiled)
    assert pointer.sleep_until == NOW + timedelta(seconds=7)


def test_retry_past_max_retries_applies_the_fallback() -> None:
    step = definition().steps[0]
    step.error_behavior = WorkflowStep.RETRY
    step.retry_policy = RetryPolicy(max_retries=2, then=WorkflowStep.SUSPEND)
    instance, _, _ = fail(step, retry_count=1)
    assert instance.status == WorkflowInstance.RUNNABLE
    instance, _, _ = fail(step, retry_count=2)
    assert instance.status == WorkflowInstance.SUSPENDED


def test_error_with_suspend_or_terminate_changes_the_workflow_status() -> None:
    step = definition().steps[0]
    step.error_behavior = WorkflowStep.SUSPEND
    instance, _, _ = fail(step)
    assert instance.status == WorkflowInstance.SUSPENDED and instance.complete_time is None
    step.error_behavior = WorkflowStep.TERMINATE
    instance, _, _ = fail(step)
    assert instance.status == WorkflowInstance.TERMINATED and instance.complete_time == NOW


def pointer(active: bool = True, **fields: object) -> ExecutionPointer:
    made = ExecutionPointer()
    made.id = str(fields.pop("id", "p"))
    made.active = active
    for name, value in fields.items():
        setattr(made, name, value)
    return made


def workflow_with(*pointers: ExecutionPointer) -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.execution_pointers.extend(pointers)
    return instance


def test_next_execution_is_now_when_a_step_is_ready() -> None:
    instance = workflow_with(pointer())
    determine_next_execution(instance, NOW)
    assert instance.next_execution == NOW


def test_next_execution_is_the_earliest_wake_up() -> None:
    soon, later = NOW + timedelta(seconds=5), NOW + timedelta(hours=1)
    instance = workflow_with(pointer(id="a", sleep_until=later), pointer(id="b", sleep_until=soon))
    determine_next_execution(instance, NOW)
    assert instance.next_execution == soon


def test_workflow_waiting_only_for_events_has_no_next_execution() -> None:
    instance = workflow_with(pointer(active=False, status=ExecutionPointer.WAITING))
    determine_next_execution(instance, NOW)
    assert instance.next_execution is None


def test_container_with_unfinished_children_is_not_due() -> None:
    container = pointer(id="c", children=["x"])
    child = pointer(id="x", active=False, scope=["c"], status=ExecutionPointer.WAITING)
    instance = workflow_with(container, child)
    determine_next_execution(instance, NOW)
    assert instance.next_execution is None
    child.end_time = NOW
    determine_next_execution(instance, NOW)
    assert instance.next_execution is not None


def test_suspended_workflow_has_no_next_execution() -> None:
    instance = workflow_with(pointer())
    instance.status = WorkflowInstance.SUSPENDED
    determine_next_execution(instance, NOW)
    assert instance.next_execution is None


def executor_for(workflow: Workflow) -> tuple[WorkflowExecutor, WorkflowDefinition]:
    registry = WorkflowRegistry()
    compiled = registry.register_workflow(workflow)
    return WorkflowExecutor(
        registry, ResultProcessor(timedelta(seconds=60), LOGGER), LOGGER, clock=SystemClock()
    ), compiled


def fresh_instance(compiled: WorkflowDefinition) -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.id = "w"
    instance.workflow_definition_id = compiled.id
    instance.version = compiled.version
    instance.execution_pointers.append(genesis_pointer(compiled.steps[0]))
    return instance


def test_one_pass_runs_only_the_steps_due_at_its_start() -> None:
    executor, compiled = executor_for(Chain())
    instance = fresh_instance(compiled)
    executor.execute(instance)
    assert [p.status for p in instance.execution_pointers] == [
        ExecutionPointer.COMPLETE,
        ExecutionPointer.PENDING,
    ]
    assert instance.status == WorkflowInstance.RUNNABLE


def test_passes_until_done_complete_the_workflow() -> None:
    executor, compiled = executor_for(Chain())
    instance = fresh_instance(compiled)
    for _ in range(10):
        executor.execute(instance)
    assert instance.status == WorkflowInstance.COMPLETE
    assert instance.complete_time is not None and instance.next_execution is None
    assert len(instance.execution_pointers) == 5


def test_failing_step_is_reported_and_does_not_raise() -> None:
    class Failing(Workflow):
        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(Boom).on_error(WorkflowStep.TERMINATE)

    executor, compiled = executor_for(Failing())
    instance = fresh_instance(compiled)
    report = executor.execute(instance)
    assert instance.status == WorkflowInstance.TERMINATED
    assert [error.message for error in report.errors] == ["ValueError: boom"]


def test_pointer_to_a_step_the_definition_lacks_suspends_the_workflow() -> None:
    executor, compiled = executor_for(Chain())
    instance = fresh_instance(compiled)
    instance.execution_pointers[0].step_id = 99
    executor.execute(instance)
    assert instance.status == WorkflowInstance.SUSPENDED
