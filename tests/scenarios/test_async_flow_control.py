"""Flow control (issue 16) with `async def` steps (issue 17): an awaited pass keeps its
instance's concurrency slot until it is written, a rate limit books awaited step executions
like synchronous ones, `wait_for_any` hands over to an awaited step, and schedules and idempotent
starts work through the async host API."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest

from liteflow.core import (
    LocalLockProvider,
    MemoryPersistenceProvider,
    PersistenceProvider,
    SingleNodeQueueProvider,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowInstance,
    configure_workflow_host,
)
from liteflow.core.clock import MAX_TIME
from liteflow.core.schedules import schedule_tick
from liteflow.core.testing import FakeClock
from tests.async_support import Chain, thread_name
from tests.support import Scenario, persistence_factories, wait_until

AWAIT_SECONDS = 0.05
MONDAY = datetime(2026, 3, 2, tzinfo=timezone.utc)


@contextmanager
def cluster(count: int, store: PersistenceProvider, **options: Any) -> Iterator[list[WorkflowHost]]:
    """`count` hosts sharing a store, a queue and a lock (one cluster in one process), not started."""
    queue, lock = SingleNodeQueueProvider(), LocalLockProvider()
    settings = {"poll_interval": timedelta(seconds=30), **options}
    with ExitStack() as stack:
        made = [configure_workflow_host(store, queue, lock, **settings) for _ in range(count)]
        for host in made:
            stack.callback(host.stop, 10)
        yield made


def start_all(hosts: list[WorkflowHost], workflow: Workflow, **limits: Any) -> None:
    for host in hosts:
        host.register_workflow(workflow, **limits)
        host.start()


@pytest.mark.parametrize("store_name", ["memory", "sqlite", "postgres"])
def test_a_concurrency_limit_of_one_lets_one_instance_await_at_a_time(store_name: str) -> None:
    """Both hosts' event loops could await every step at once; the slot, held until each
    awaited pass is written, lets one at a time, and its release wakes the next at once."""
    awaited: list[tuple[str, float, float]] = []  # (instance, began, ended)

    async def call_provider(context: StepExecutionContext) -> None:
        began = time.monotonic()
        await asyncio.sleep(AWAIT_SECONDS)
        awaited.append((context.workflow.id, began, time.monotonic()))

    workflow = Chain(call_provider)
    with persistence_factories()[store_name]() as store, cluster(2, store) as hosts:
        start_all(hosts, workflow, max_concurrent=1)
        began = time.monotonic()
        ids = [hosts[n % 2].start_workflow(workflow.id(), data={}) for n in range(6)]
        for workflow_id in ids:
            hosts[0].wait_for_workflow(workflow_id, 20)
        took = time.monotonic() - began
        slot = f"liteflow:slot:{workflow.id()}:0"
        wait_until(lambda: not hosts[0].lock_service.holds_lock(slot), what="the slot let go")
        assert store.get_shared_states(f"liteflow.waiting:{workflow.id()}") == []
    assert sorted(instance for instance, _, _ in awaited) == sorted(ids)  # each step ran once
    runs = sorted(awaited, key=lambda run: run[1])
    for (_, _, ended), (_, next_began, _) in pairwise(runs):
        assert next_began >= ended  # never two awaiting at the same moment
    assert took < 6 * AWAIT_SECONDS + 5  # each woken by the release, not the 30 s poll


def test_a_rate_limit_books_awaited_step_executions_like_synchronous_ones() -> None:
    clock = FakeClock(MONDAY)
    ran: list[tuple[str, datetime]] = []

    def sync_step(context: StepExecutionContext) -> None:
        ran.append(("sync", clock.now()))

    async def async_step(context: StepExecutionContext) -> None:
        await asyncio.sleep(0.001)
        ran.append(("async", clock.now()))

    workflow = Chain(sync_step, async_step, async_step)
    with cluster(2, MemoryPersistenceProvider(), clock=clock) as hosts:
        start_all(hosts, workflow, rate_limit=(3, timedelta(minutes=1)))
        ids = [hosts[n % 2].start_workflow(workflow.id(), data={}) for n in range(3)]
        for _ in range(3):
            clock.advance(timedelta(seconds=30))
            clock.advance(timedelta(seconds=30))
        for workflow_id in ids:
            hosts[0].wait_for_workflow(workflow_id, 10)
    assert sorted(when for _, when in ran) == [MONDAY + timedelta(minutes=n // 3) for n in range(9)]
    assert [kind for kind, _ in ran].count("async") == 6


class AsyncApproval(Workflow):
    """Waits for "approved" or "rejected"; each branch, and what follows, is awaited."""

    def build(self, builder: WorkflowBuilder) -> None:
        key = lambda data: data["request"]  # noqa: E731
        (
            builder.start_with(_awaited("asked"))
            .wait_for_any([("approved", key), ("rejected", key)])
            .output("answer", lambda step: step.event_data)
            .when("approved")
            .do(lambda then: then.start_with(_awaited("approved")))
            .when("rejected")
            .do(lambda then: then.start_with(_awaited("rejected")))
            .then(_awaited("done"))
        )


def _awaited(name: str) -> Any:
    async def record(context: StepExecutionContext) -> None:
        await asyncio.sleep(0.001)
        context.workflow.data["path"].append((name, thread_name()))

    return record


@pytest.mark.parametrize("event", ["approved", "rejected"])
def test_wait_for_any_leads_to_awaited_steps_on_the_event_that_came(scenario: Scenario, event: str) -> None:
    host = scenario.host
    workflow_id = scenario.run(AsyncApproval(), {"request": "r1", "path": []})
    scenario.wait_for_subscription("approved", "r1")
    scenario.wait_for_subscription("rejected", "r1")
    host.publish_event(event, "r1", {"by": "ann"})
    instance = scenario.wait_for_completion(workflow_id)
    loop = "liteflow-event-loop"
    assert instance.data["path"] == [("asked", loop), (event, loop), ("done", loop)]
    assert instance.data["answer"] == {"by": "ann"}
    other = "rejected" if event == "approved" else "approved"
    host.publish_event(other, "r1", {"by": "bob"})  # too late: it reopens nothing
    wait_until(lambda: host.persistence_service.get_subscriptions(other, "r1", MAX_TIME) == [])
    assert scenario.instance(workflow_id).data["path"] == instance.data["path"]


def test_a_schedule_added_from_an_event_loop_starts_awaited_steps_and_the_host_stops_cleanly() -> None:
    clock = FakeClock(MONDAY)
    ticks: list[tuple[datetime | None, str]] = []

    async def report(context: StepExecutionContext) -> None:
        await asyncio.sleep(0.001)
        ticks.append((schedule_tick(context.workflow), thread_name()))

    workflow = Chain(report)
    host = configure_workflow_host(clock=clock, poll_interval=timedelta(seconds=30))
    host.register_workflow(workflow)
    before = set(threading.enumerate())

    async def hour_passes(ticked: int) -> None:
        await asyncio.to_thread(clock.advance, timedelta(hours=1))
        await asyncio.to_thread(wait_until, lambda: len(ticks) == ticked)

    async def work() -> list[Any]:
        async with host:
            added = await host.add_schedule_async("hourly", workflow.id(), "0 * * * *", data={})
            await hour_passes(1)
            await hour_passes(2)
            paused = await host.pause_schedule_async("hourly")
            await hour_passes(2)
            listed = await host.get_schedules_async()
            resumed = await host.resume_schedule_async("hourly")
            removed = await host.remove_schedule_async("hourly")
            return [added.next_tick, paused, listed[0].paused, resumed, removed]

    assert asyncio.run(work()) == [MONDAY + timedelta(hours=1), True, True, True, True]
    assert not host.is_running
    left = {thread.name for thread in set(threading.enumerate()) - before}
    assert not left & {"liteflow-schedules", "liteflow-event-loop", "liteflow-poller"}
    assert ticks == [(MONDAY + timedelta(hours=hour), "liteflow-event-loop") for hour in (1, 2)]
    assert len(host.persistence_service.get_workflow_instances()) == 2  # none while paused
    assert host.get_schedules() == []


def test_an_instance_id_started_twice_from_an_event_loop_starts_once() -> None:
    runs: list[str] = []

    async def charge(context: StepExecutionContext) -> None:
        runs.append(context.workflow.id)

    workflow = Chain(charge)
    host = configure_workflow_host()
    host.register_workflow(workflow)

    async def work() -> list[str]:
        async with host:
            first, second = await asyncio.gather(
                *(host.start_workflow_async(workflow.id(), data={}, instance_id="order-42") for _ in range(2))
            )
            instance = await host.wait_for_workflow_async("order-42", timeout=10)
            assert instance.status == WorkflowInstance.COMPLETE
            return [first, second]

    assert asyncio.run(work()) == ["order-42", "order-42"]
    assert runs == ["order-42"]
    assert [instance.id for instance in host.persistence_service.get_workflow_instances()] == ["order-42"]
