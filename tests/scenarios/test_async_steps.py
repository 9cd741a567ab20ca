"""`async def` steps: awaited on the host's event loop, beside synchronous steps, with the same
inputs, outputs, errors, retries, compensation, cancellation and events."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from typing import Any

from liteflow.core import (
    ExecutionPointer,
    ExecutionResult,
    PersistenceProvider,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStep,
)
from liteflow.core.lifecycle import LifecycleEvent, StepEvent
from tests.async_support import Chain, Overlap, thread_name
from tests.support import Scenario, running_host, wait_until


def note(context: StepExecutionContext, entry: str) -> None:
    context.workflow.data.setdefault("log", []).append(entry)


class SyncNote(StepBody):
    def run(self, context: StepExecutionContext) -> None:
        note(context, f"sync on {thread_name().rsplit('-', 1)[0]}")


class AsyncNote(StepBody):
    async def run(self, context: StepExecutionContext) -> None:
        await asyncio.sleep(0.01)
        note(context, f"async on {thread_name()}")


class AsyncAdd(StepBody):
    def __init__(self) -> None:
        self.left = 0
        self.right = 0
        self.total = 0

    async def run(self, context: StepExecutionContext) -> ExecutionResult:
        await asyncio.sleep(0)
        self.total = self.left + self.right
        return ExecutionResult.outcome("added")


def test_sync_and_async_steps_run_in_order_each_on_its_own_kind_of_thread(scenario: Scenario) -> None:
    async def inline(context: StepExecutionContext) -> None:
        await asyncio.sleep(0.01)
        note(context, "inline async")

    workflow_id = scenario.run(Chain(SyncNote, AsyncNote, inline, SyncNote), {})
    log = scenario.wait_for_completion(workflow_id).data["log"]
    assert log == [
        "sync on liteflow-workflow",
        "async on liteflow-event-loop",
        "inline async",
        "sync on liteflow-workflow",
    ]


def test_an_async_step_takes_its_inputs_and_gives_its_outputs(scenario: Scenario) -> None:
    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(AsyncAdd).input("left", lambda data: data["a"]).input(
            "right", lambda data: data["b"]
        ).output("sum", lambda step: step.total)

    instance = scenario.wait_for_completion(scenario.run(Chain(build=build), {"a": 2, "b": 3}))
    assert instance.data["sum"] == 5
    assert instance.execution_pointers[0].outcome == "added"


def test_a_synchronous_function_returning_a_coroutine_is_awaited(scenario: Scenario) -> None:
    async def later(context: StepExecutionContext) -> ExecutionResult:
        await asyncio.sleep(0.01)
        return ExecutionResult.outcome("awaited")

    def not_declared_async(context: StepExecutionContext) -> Any:
        return later(context)

    workflow_id = scenario.run(Chain(not_declared_async), {})
    assert scenario.wait_for_completion(workflow_id).execution_pointers[0].outcome == "awaited"


def test_an_awaited_step_that_returns_something_else_than_a_result_fails(scenario: Scenario) -> None:
    async def answer(context: StepExecutionContext) -> Any:
        return 42

    def not_declared_async(context: StepExecutionContext) -> Any:
        return answer(context)

    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(answer).on_error(WorkflowStep.SUSPEND)

    def build_undeclared(builder: WorkflowBuilder) -> None:
        builder.start_with(not_declared_async).on_error(WorkflowStep.SUSPEND)

    for shape in (build, build_undeclared):
        workflow_id = scenario.run(Chain(build=shape), {})
        scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
        [error] = scenario.errors(workflow_id)
        assert error.startswith("TypeError: ") and "returned int; return an ExecutionResult or None" in error


def test_many_workflows_await_at_once_rather_than_one_per_worker(scenario: Scenario) -> None:
    overlap = Overlap()

    async def remote_call(context: StepExecutionContext) -> None:
        with overlap.running():
            await asyncio.sleep(0.5)

    workflow = Chain(remote_call)
    ids = [scenario.run(workflow, {}) for _ in range(40)]
    for workflow_id in ids:
        scenario.wait_for_completion(workflow_id, timeout=20)
    assert overlap.peak > 2 * scenario.host.options.max_concurrent_workflows


def test_max_concurrent_async_steps_bounds_the_steps_awaiting_at_once(
    local_persistence: PersistenceProvider,
) -> None:
    overlap = Overlap()

    async def remote_call(context: StepExecutionContext) -> None:
        with overlap.running():
            await asyncio.sleep(0.05)

    with running_host(local_persistence, max_concurrent_async_steps=3) as host:
        scenario = Scenario(host)
        ids = [scenario.run(Chain(remote_call), {}) for _ in range(12)]
        for workflow_id in ids:
            scenario.wait_for_completion(workflow_id)
    assert overlap.peak == 3


def test_a_synchronous_step_in_a_pass_with_an_awaited_one_does_not_block_the_loop(
    scenario: Scenario,
) -> None:
    ticks: list[float] = []
    sync_ran: dict[str, Any] = {}

    async def ticker(context: StepExecutionContext) -> None:
        for _ in range(100):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def first(context: StepExecutionContext) -> None:
        await asyncio.sleep(0)

    def blocking(context: StepExecutionContext) -> None:
        sync_ran["thread"] = thread_name()
        sync_ran["from"] = time.monotonic()
        time.sleep(0.6)
        sync_ran["to"] = time.monotonic()

    def build(builder: WorkflowBuilder) -> None:  # both branches are due in the same pass
        builder.start_with(lambda context: None).parallel().do(lambda branch: branch.start_with(first)).do(
            lambda branch: branch.start_with(blocking)
        ).join()

    ticking = scenario.run(Chain(ticker), {})
    wait_until(lambda: ticks, what="the ticker to start")
    scenario.wait_for_completion(scenario.run(Chain(build=build), {}))
    scenario.wait_for_completion(ticking)
    during = [tick for tick in ticks if sync_ran["from"] <= tick <= sync_ran["to"]]
    assert sync_ran["thread"].startswith("liteflow-step")
    assert len(during) >= 10
    assert max(later - earlier for earlier, later in itertools.pairwise(during)) < 0.25


class FailsOnceAsync(StepBody):
    async def run(self, context: StepExecutionContext) -> None:
        await asyncio.sleep(0)
        if context.execution_pointer.retry_count == 0:
            raise ValueError("remote said no")


def test_an_async_step_that_raises_is_retried_with_its_error_recorded(scenario: Scenario) -> None:
    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(FailsOnceAsync).on_error(WorkflowStep.RETRY, timedelta(milliseconds=20))

    workflow_id = scenario.run(Chain(build=build), {})
    instance = scenario.wait_for_completion(workflow_id)
    assert scenario.errors(workflow_id) == ["ValueError: remote said no"]
    assert instance.execution_pointers[0].retry_count == 1


def test_an_async_step_that_raises_suspends_its_workflow_when_told_to(scenario: Scenario) -> None:
    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(FailsOnceAsync).on_error(WorkflowStep.SUSPEND)

    workflow_id = scenario.run(Chain(build=build), {})
    scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
    assert scenario.errors(workflow_id) == ["ValueError: remote said no"]


def test_a_saga_compensates_its_async_steps_when_an_async_step_fails(scenario: Scenario) -> None:
    def undo(name: str) -> Any:
        async def compensate(context: StepExecutionContext) -> None:
            await asyncio.sleep(0)
            note(context, f"undo {name}")

        return compensate

    async def charge(context: StepExecutionContext) -> None:
        await asyncio.sleep(0)
        note(context, "charged")

    async def ship(context: StepExecutionContext) -> None:
        raise RuntimeError("no truck")

    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).saga(
            lambda saga: (
                saga.start_with(charge)
                .compensate_with(undo("charge"))
                .then(ship)
                .compensate_with(undo("ship"))
            )
        ).then(lambda context: note(context, "after the saga"))

    workflow_id = scenario.run(Chain(build=build), {})
    log = scenario.wait_for_completion(workflow_id).data["log"]
    assert log == ["charged", "undo ship", "undo charge", "after the saga"]
    assert scenario.errors(workflow_id) == ["RuntimeError: no truck"]


def test_a_cancel_condition_cancels_an_async_step_that_keeps_polling(scenario: Scenario) -> None:
    async def poll(context: StepExecutionContext) -> ExecutionResult:
        await asyncio.sleep(0)
        return ExecutionResult.sleep(timedelta(milliseconds=20), "polled")

    async def stop(context: StepExecutionContext) -> None:
        await asyncio.sleep(0.05)
        context.workflow.data["stop"] = True

    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).parallel().do(
            lambda branch: branch.start_with(poll).cancel_condition(lambda data: data.get("stop", False))
        ).do(lambda branch: branch.start_with(stop)).join()

    instance = scenario.wait_for_completion(scenario.run(Chain(build=build), {}))
    [polling] = [pointer for pointer in instance.execution_pointers if pointer.persistence_data == "polled"]
    assert polling.status == ExecutionPointer.CANCELLED


def test_an_event_wakes_a_workflow_whose_next_step_is_async(scenario: Scenario) -> None:
    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(AsyncNote).wait_for("paid", lambda data: data["order"]).output(
            "payment", lambda step: step.event_data
        ).then(AsyncNote)

    workflow_id = scenario.run(Chain(build=build), {"order": "o-1"})
    scenario.wait_for_subscription("paid", "o-1")
    scenario.host.publish_event("paid", "o-1", 42)
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data["payment"] == 42
    assert instance.data["log"] == ["async on liteflow-event-loop"] * 2


def test_an_async_step_yields_the_lifecycle_events_of_any_step(scenario: Scenario) -> None:
    seen: list[LifecycleEvent] = []
    scenario.host.on_lifecycle_event(seen.append)
    workflow_id = scenario.run(Chain(SyncNote, AsyncNote), {})
    scenario.wait_for_completion(workflow_id)

    def names() -> list[str]:
        return [
            f"{type(event).__name__}:{event.step_name}"
            if isinstance(event, StepEvent)
            else type(event).__name__
            for event in list(seen)
            if event.workflow_instance_id == workflow_id
        ]

    wait_until(lambda: "WorkflowCompleted" in names(), what="the completion event")
    assert names() == [
        "WorkflowStarted",
        "StepStarted:SyncNote",
        "StepCompleted:SyncNote",
        "StepStarted:AsyncNote",
        "StepCompleted:AsyncNote",
        "WorkflowCompleted",
    ]


def test_a_sync_wait_inside_an_async_step_fails_the_step_instead_of_hanging(scenario: Scenario) -> None:
    async def waits_wrongly(context: StepExecutionContext) -> None:
        assert context.host is not None
        context.host.wait_for_workflow(context.workflow.id, timeout=5)

    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(waits_wrongly).on_error(WorkflowStep.SUSPEND)

    workflow_id = scenario.run(Chain(build=build), {})
    scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
    [error] = scenario.errors(workflow_id)
    assert "HostStateError: wait_for_workflow() would block the host's event loop" in error
    assert "await wait_for_workflow_async()" in error


def test_an_async_step_sleeps_and_waits_on_the_hosts_clock(clocked_scenario: Scenario) -> None:
    async def nap_then_note(context: StepExecutionContext) -> ExecutionResult | None:
        if context.persistence_data is None:
            await asyncio.sleep(0)
            return ExecutionResult.sleep(timedelta(hours=1), "slept")
        note(context, "woke")
        return None

    clock = clocked_scenario.host.clock
    workflow_id = clocked_scenario.run(Chain(nap_then_note), {})
    wait_until(
        lambda: clocked_scenario.instance(workflow_id).next_execution == clock.now() + timedelta(hours=1),
        what="the hour's sleep",
    )
    clock.advance(timedelta(minutes=59))
    assert "log" not in clocked_scenario.instance(workflow_id).data
    clock.advance(timedelta(minutes=1))
    assert clocked_scenario.wait_for_completion(workflow_id).data["log"] == ["woke"]
