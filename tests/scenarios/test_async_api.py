"""The host's async methods, called from an application's own event loop: none blocks it."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from liteflow.core import (
    PersistenceProvider,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowNotFoundError,
    configure_workflow_host,
)
from tests.async_support import Chain

T = TypeVar("T")
caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="none")


async def with_ticker(work: Callable[[], Awaitable[T]]) -> tuple[T, list[float]]:
    """Run `work` beside a task ticking every 5 ms on the same loop; return its result and the
    ticks (with the start and end of `work`)."""
    ticks = [time.monotonic()]

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    try:
        result = await work()
    finally:
        ticker.cancel()
    ticks.append(time.monotonic())
    return result, sorted(ticks)


def longest_gap(ticks: list[float]) -> float:
    return max(later - earlier for earlier, later in itertools.pairwise(ticks))


def blocking_step(context: StepExecutionContext) -> None:
    time.sleep(1)  # a synchronous step that takes a while, on a worker thread


def test_starting_and_waiting_for_a_workflow_does_not_block_the_callers_loop(
    local_persistence: PersistenceProvider,
) -> None:
    host = configure_workflow_host(local_persistence)
    workflow = Chain(blocking_step)
    host.register_workflow(workflow)

    async def work() -> WorkflowInstance:
        async with host:
            workflow_id = await host.start_workflow_async(workflow.id(), data={})
            return await host.wait_for_workflow_async(workflow_id, timeout=10)

    instance, ticks = asyncio.run(with_ticker(work))
    assert instance.status == WorkflowInstance.COMPLETE
    assert not host.is_running
    assert len(ticks) >= 50
    assert longest_gap(ticks) < 0.25  # waiting in a blocking way would stop it for a second


def test_publishing_an_event_from_the_loop_wakes_the_waiting_workflow(
    local_persistence: PersistenceProvider,
) -> None:
    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).wait_for("approved", lambda data: data["order"]).output(
            "approval", lambda step: step.event_data
        )

    host = configure_workflow_host(local_persistence)
    workflow = Chain(build=build)
    host.register_workflow(workflow)

    async def work() -> WorkflowInstance:
        async with host:
            workflow_id = await host.start_workflow_async(workflow.id(), data={"order": "o-7"})
            while not await asyncio.to_thread(
                host.persistence_service.get_subscriptions, "approved", "o-7", host.clock.now()
            ):
                await asyncio.sleep(0.005)
            await host.publish_event_async("approved", "o-7", {"by": "ann"})
            return await host.wait_for_workflow_async(workflow_id, timeout=10)

    instance, ticks = asyncio.run(with_ticker(work))
    assert instance.data["approval"] == {"by": "ann"}
    assert longest_gap(ticks) < 0.25


def test_suspend_resume_and_terminate_have_async_twins(local_persistence: PersistenceProvider) -> None:
    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).wait_for("never", "k")

    host = configure_workflow_host(local_persistence)
    workflow = Chain(build=build)
    host.register_workflow(workflow)

    async def work() -> list[Any]:
        async with host:
            workflow_id = await host.start_workflow_async(workflow.id(), data={})
            results: list[Any] = [await host.suspend_workflow_async(workflow_id)]
            results.append((await host.get_workflow_instance_async(workflow_id)).status)
            results.append(await host.resume_workflow_async(workflow_id))
            results.append(await host.terminate_workflow_async(workflow_id))
            results.append((await host.get_workflow_instance_async(workflow_id)).status)
            return results

    assert asyncio.run(work()) == [True, WorkflowInstance.SUSPENDED, True, True, WorkflowInstance.TERMINATED]


def test_waiting_async_for_an_unfinished_workflow_times_out_naming_it(
    local_persistence: PersistenceProvider,
) -> None:
    def build(builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).wait_for("never", "k")

    host = configure_workflow_host(local_persistence)
    workflow = Chain(build=build)
    host.register_workflow(workflow)

    async def work() -> None:
        async with host:
            workflow_id = await host.start_workflow_async(workflow.id(), data={})
            began = time.monotonic()
            with pytest.raises(TimeoutError, match=f"workflow {workflow_id} did not finish within 0.2 s"):
                await host.wait_for_workflow_async(workflow_id, timeout=0.2)
            assert 0.19 < time.monotonic() - began < 1

    asyncio.run(work())


def test_an_unknown_instance_raises_from_the_async_lookup() -> None:
    host = configure_workflow_host()
    with pytest.raises(WorkflowNotFoundError, match="no workflow instance with id 'missing'"):
        asyncio.run(host.get_workflow_instance_async("missing"))


def test_a_workflow_middleware_sees_the_context_of_the_async_caller() -> None:
    seen: list[str] = []

    class Capture:
        def pre_workflow(self, instance: WorkflowInstance) -> None:
            seen.append(caller.get())

    host = configure_workflow_host(workflow_middleware=[Capture()])
    workflow = Chain(lambda context: None)
    host.register_workflow(workflow)

    async def start(name: str) -> None:
        caller.set(name)
        await host.start_workflow_async(workflow.id(), data={})

    asyncio.run(start("checkout endpoint"))
    assert seen == ["checkout endpoint"]
