"""Concurrency and rate limits across hosts (issue 16): at most N instances executing a step at
once (per workflow, per key), at most N step executions per period; held-back instances wait
without polling and run as soon as a slot frees; no step is lost or run twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from liteflow.core import (
    InvalidArgumentError,
    LocalLockProvider,
    MemoryPersistenceProvider,
    PersistenceProvider,
    SingleNodeQueueProvider,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowDefinitionError,
    WorkflowHost,
    WorkflowInstance,
    configure_workflow_host,
)
from liteflow.core.testing import FakeClock
from tests.servers import postgres_test_database
from tests.support import persistence_factories, wait_until

STEP_SECONDS = 0.05


class Meter:
    """Records when each step ran (real time) and how many ran at the same moment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.runs: list[tuple[str, str, float, float]] = []  # (key, instance, start, end)

    def step(self, key: str, instance_id: str, seconds: float = STEP_SECONDS) -> None:
        with self._lock:
            for name in (key, "all"):
                self.running[name] = self.running.get(name, 0) + 1
                self.peak[name] = max(self.peak.get(name, 0), self.running[name])
        began = time.monotonic()
        time.sleep(seconds)
        with self._lock:
            for name in (key, "all"):
                self.running[name] -= 1
            self.runs.append((key, instance_id, began, time.monotonic()))


METER = Meter()


def _measured(context: StepExecutionContext) -> None:
    METER.step(context.workflow.data["key"], context.workflow.id)


class Payments(Workflow):
    """Two steps per instance, at most 2 instances executing one at a time."""

    max_concurrent = 2

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(_measured).then(_measured)


class PerCustomer(Workflow):
    max_concurrent_per_key = 1

    def concurrency_key(self, data: dict[str, Any]) -> str | None:
        return data["key"] if data["key"] != "anyone" else None

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(_measured)


@contextmanager
def cluster(
    count: int, store: PersistenceProvider | None = None, **options: Any
) -> Iterator[list[WorkflowHost]]:
    """`count` started hosts sharing a store, a queue and a lock: one cluster, in one process."""
    shared = (store or MemoryPersistenceProvider(), SingleNodeQueueProvider(), LocalLockProvider())
    settings = {"poll_interval": timedelta(seconds=30), "max_concurrent_workflows": 4, **options}
    with ExitStack() as stack:
        made = [configure_workflow_host(*shared, **settings) for _ in range(count)]
        for host in made:
            host.register_workflow(Payments())
            host.register_workflow(PerCustomer())
            host.start()
            stack.callback(host.stop, 10)
        yield made


def finished(host: WorkflowHost, ids: list[str], timeout: float = 20) -> list[WorkflowInstance]:
    for workflow_id in ids:
        host.wait_for_workflow(workflow_id, timeout)
    return [host.get_workflow_instance(workflow_id) for workflow_id in ids]


def most_at_once(runs: list[tuple[str, str, float, float]]) -> int:
    """The most runs in progress at one moment (an end before a start at the same time)."""
    edges = sorted([(start, 1) for _, _, start, _ in runs] + [(end, -1) for _, _, _, end in runs])
    running = peak = 0
    for _, change in edges:
        running += change
        peak = max(peak, running)
    return peak


@pytest.fixture(autouse=True)
def fresh_meter() -> None:
    global METER
    METER = Meter()


@pytest.mark.parametrize("store_name", ["memory", "sqlite", "postgres"])
def test_at_most_two_instances_run_a_step_at_once_across_two_hosts(store_name: str) -> None:
    with persistence_factories()[store_name]() as store, cluster(2, store) as [first, second]:
        ids = [(first, second)[n % 2].start_workflow("Payments", data={"key": f"p{n}"}) for n in range(8)]
        instances = finished(first, ids)
    assert all(instance.status == WorkflowInstance.COMPLETE for instance in instances)
    assert METER.peak["all"] == 2
    runs = sorted(METER.runs, key=lambda run: run[2])
    assert len(runs) == 16  # each of the two steps of each instance ran once
    assert {instance_id for _, instance_id, _, _ in runs} == set(ids)
    assert most_at_once(runs) == 2  # judged from the recorded times too


def test_an_instance_held_back_runs_as_soon_as_a_slot_frees_without_polling() -> None:
    gate = threading.Event()

    def hold(context: StepExecutionContext) -> None:
        if context.workflow.data["key"] == "blocker":
            gate.wait(10)
        METER.step(context.workflow.data["key"], context.workflow.id, 0)

    class OneAtATime(Workflow):
        max_concurrent = 1

        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(hold)

    with cluster(2) as [first, second]:
        for host in (first, second):
            host.register_workflow(OneAtATime())
        blocker = first.start_workflow("OneAtATime", data={"key": "blocker"})
        wait_until(
            lambda: (
                first.persistence_service.get_shared_states("liteflow.waiting:OneAtATime") == []
                and first.lock_service.holds_lock("liteflow:slot:OneAtATime:0")
            )
        )
        waiter = second.start_workflow("OneAtATime", data={"key": "waiter"})
        store = first.persistence_service
        wait_until(
            lambda: [s.key for s in store.get_shared_states("liteflow.waiting:OneAtATime")] == [waiter]
        )
        held = store.get_workflow_instance(waiter)
        assert held is not None and held.next_execution is not None
        assert held.next_execution > datetime.now(timezone.utc) + timedelta(seconds=20)  # no polling
        released = time.monotonic()
        gate.set()
        finished(first, [blocker, waiter])
        assert store.get_shared_states("liteflow.waiting:OneAtATime") == []
    [(_, _, blocker_ran, _), (_, _, waiter_ran, _)] = sorted(METER.runs, key=lambda run: run[2])
    assert waiter_ran - released < 1.0  # woken by the release, long before the 30 s backstop
    assert blocker_ran < waiter_ran


def test_a_per_key_limit_of_one_runs_each_key_alone_and_different_keys_together() -> None:
    with cluster(2) as [first, second]:
        keys = ["ann", "bob", "ann", "bob", "ann", "anyone", "anyone"]
        ids = [
            (first, second)[n % 2].start_workflow("PerCustomer", data={"key": key})
            for n, key in enumerate(keys)
        ]
        finished(first, ids)
    assert METER.peak["ann"] == 1 and METER.peak["bob"] == 1
    assert METER.peak["anyone"] == 2  # no key: no key limit
    assert METER.peak["all"] >= 2  # ann and bob ran side by side
    assert len(METER.runs) == len(keys)


def test_a_rate_limit_spreads_step_executions_over_periods_on_the_hosts_clock() -> None:
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=timezone.utc))
    ran_at: list[datetime] = []

    class Throttled(Workflow):
        rate_limit = (2, timedelta(minutes=1))

        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(lambda context: ran_at.append(clock.now())).then(
                lambda context: ran_at.append(clock.now())
            )

    with cluster(2, clock=clock) as [first, second]:
        for host in (first, second):
            host.register_workflow(Throttled())
        ids = [(first, second)[n % 2].start_workflow("Throttled") for n in range(3)]
        for _ in range(3):
            clock.advance(timedelta(seconds=30))
            clock.advance(timedelta(seconds=30))
        finished(first, ids)
    start = datetime(2026, 3, 2, tzinfo=timezone.utc)
    assert sorted(ran_at) == [start + timedelta(minutes=minute) for minute in (0, 0, 1, 1, 2, 2)]


def test_a_rate_limit_given_at_registration_overrides_the_class() -> None:
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=timezone.utc))
    ran_at: list[datetime] = []

    class Unlimited(Workflow):
        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(lambda context: ran_at.append(clock.now()))

    with cluster(1, clock=clock) as [host]:
        host.register_workflow(Unlimited(), rate_limit=(1, timedelta(hours=1)))
        ids = [host.start_workflow("Unlimited") for _ in range(2)]
        wait_until(lambda: len(ran_at) == 1)
        clock.advance(timedelta(minutes=59))
        time.sleep(0.05)
        assert len(ran_at) == 1
        clock.advance(timedelta(minutes=1))
        finished(host, ids)
    assert ran_at[1] - ran_at[0] == timedelta(hours=1)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_concurrent": 0}, "max_concurrent must be an int >= 1"),
        ({"max_concurrent_per_key": 1}, "go together"),
        ({"concurrency_key": lambda data: "k"}, "go together"),
        ({"rate_limit": (5, "second")}, "rate_limit must be \\(count, timedelta\\)"),
        ({"rate_limit": (5, timedelta(0))}, "period must be positive"),
        ({"max_concurent": 2}, "unknown limit\\(s\\) max_concurent"),
    ],
)
def test_bad_limits_are_refused_at_registration(limits: dict[str, Any], message: str) -> None:
    host = configure_workflow_host()
    with pytest.raises(WorkflowDefinitionError, match=message):
        host.register_workflow(Payments(), **limits)


def test_a_concurrency_key_that_cannot_be_made_fails_at_start_workflow() -> None:
    host = configure_workflow_host()
    host.register_workflow(PerCustomer())
    with pytest.raises(InvalidArgumentError, match="concurrency_key\\(data\\) raised KeyError"):
        host.start_workflow("PerCustomer", data={})
    with pytest.raises(InvalidArgumentError, match="concurrency_key"):
        host.start_workflow("PerCustomer", data={"key": 1.5})
    assert host.persistence_service.get_workflow_instances() == []


@pytest.mark.integration
def test_the_slot_of_a_host_whose_lock_session_died_frees_within_the_backstop() -> None:
    """PostgreSQL ends a dead host's session and its advisory locks with it: the waiting
    instance on the other host runs at its backstop (the poll interval) without a release."""
    from liteflow_postgres import PostgresLockProvider

    dsn = postgres_test_database()
    gate = threading.Event()
    blocked = threading.Event()

    def hold(context: StepExecutionContext) -> None:
        if context.workflow.data["key"] == "blocker" and not blocked.is_set():
            blocked.set()  # the first run only: the dead host's step runs again elsewhere
            gate.wait(20)
        METER.step(context.workflow.data["key"], context.workflow.id, 0)

    class Single(Workflow):
        max_concurrent = 1

        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(hold)

    store, queue = MemoryPersistenceProvider(), SingleNodeQueueProvider()
    prefix = f"test-{time.monotonic_ns()}:"
    locks = [PostgresLockProvider(dsn, key_prefix=prefix) for _ in range(2)]
    made = [configure_workflow_host(store, queue, lock, poll_interval=timedelta(seconds=1)) for lock in locks]
    try:
        for host in made:
            host.register_workflow(Single())
            host.start()
        dying, survivor = made
        blocker = dying.start_workflow("Single", data={"key": "blocker"})
        wait_until(lambda: dying.lock_service.holds_lock("liteflow:slot:Single:0"))
        waiter = survivor.start_workflow("Single", data={"key": "waiter"})
        wait_until(lambda: store.get_shared_states("liteflow.waiting:Single"))
        died = time.monotonic()
        dying.lock_service.shutdown()  # its session ends, as when its process dies
        survivor.wait_for_workflow(waiter, 10)
        assert time.monotonic() - died < 5
        assert "waiter" in [key for key, *_ in METER.runs]
    finally:
        gate.set()
        for host in made:
            host.stop(5)
    assert store.get_workflow_instance(blocker) is not None
