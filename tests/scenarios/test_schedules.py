"""Durable cron schedules (issue 16): each due tick starts one instance in the whole cluster,
missed ticks follow `catch_up`, IANA time zones hold across DST, all on the host's clock (a
`FakeClock` runs a week of schedules in well under a second)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from liteflow.core import (
    CronSchedule,
    InvalidArgumentError,
    LocalLockProvider,
    MemoryPersistenceProvider,
    PersistenceProvider,
    SingleNodeQueueProvider,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowInstance,
    WorkflowNotRegisteredError,
    configure_workflow_host,
)
from liteflow.core.schedules import schedule_tick
from liteflow.core.testing import FakeClock
from tests.support import persistence_factories, wait_until

HOUR = timedelta(hours=1)
MONDAY = datetime(2026, 3, 2, tzinfo=timezone.utc)
UTC = timezone.utc


class Report(Workflow):
    """Records, on the host's clock, when its one step ran."""

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(_record_run)


def _record_run(context: StepExecutionContext) -> None:
    assert context.host is not None
    data = context.workflow.data
    if isinstance(data, dict):
        data["ran_at"] = context.host.clock.now()


def _host(store: PersistenceProvider, clock: FakeClock, lock: LocalLockProvider) -> WorkflowHost:
    host = configure_workflow_host(
        store, SingleNodeQueueProvider(), lock, clock=clock, poll_interval=timedelta(seconds=30)
    )
    host.register_workflow(Report())
    return host


@contextmanager
def hosts(
    count: int, clock: FakeClock, store: PersistenceProvider | None = None
) -> Iterator[list[WorkflowHost]]:
    """`count` started hosts sharing one store and one lock, on `clock`."""
    shared_store = store or MemoryPersistenceProvider()
    lock = LocalLockProvider()
    with ExitStack() as stack:
        made = [_host(shared_store, clock, lock) for _ in range(count)]
        for host in made:
            host.start()
            stack.callback(host.stop, 5)
        yield made


def started(store: PersistenceProvider, expected: int | None = None) -> list[WorkflowInstance]:
    """The instances of Report, by tick; with `expected`, once that many are stored COMPLETE."""

    def complete() -> list[WorkflowInstance]:
        found = store.get_workflow_instances(definition_id="Report")
        done = all(instance.status == WorkflowInstance.COMPLETE for instance in found)
        return found if done and (expected is None or len(found) >= expected) else []

    found = wait_until(complete, what=f"{expected} complete Report instances") if expected else complete()
    return sorted(found, key=lambda instance: schedule_tick(instance) or MONDAY)


def ticks(instances: list[WorkflowInstance]) -> list[datetime | None]:
    return [schedule_tick(instance) for instance in instances]


def test_a_week_of_weekday_ticks_starts_one_instance_at_each_local_nine_oclock() -> None:
    clock = FakeClock(MONDAY)
    began = time.monotonic()
    with hosts(1, clock) as [host]:
        host.add_schedule("daily", "Report", "0 9 * * MON-FRI", data={}, timezone="Europe/Riga")
        for _ in range(7 * 24):
            clock.advance(HOUR)
        instances = started(host.persistence_service, 5)
    assert time.monotonic() - began < 5
    nine_in_riga = [datetime(2026, 3, day, 7, tzinfo=UTC) for day in range(2, 7)]  # UTC+2 in March
    assert ticks(instances) == nine_in_riga
    assert [instance.data["ran_at"] for instance in instances] == nine_in_riga  # each ran at its tick
    assert instances[0].id == "daily@2026-03-02T07:00:00Z"
    assert {instance.reference for instance in instances} == {"daily"}


@pytest.mark.parametrize("store_name", sorted(persistence_factories()))
def test_two_hosts_on_one_store_start_each_tick_exactly_once(store_name: str) -> None:
    clock = FakeClock(MONDAY)
    with persistence_factories()[store_name]() as store, hosts(2, clock, store) as [first, second]:
        first.add_schedule("quarterly", "Report", "*/15 * * * *", data={})
        second.add_schedule("quarterly", "Report", "*/15 * * * *", data={})  # same plan: no change
        for _ in range(6):
            clock.advance(timedelta(minutes=15))
        instances = started(store, 6)
        time.sleep(0.1)  # a second instance of a tick would show up by now
        assert len(started(store)) == 6
    assert ticks(instances) == [MONDAY + timedelta(minutes=15 * n) for n in range(1, 7)]


def test_both_hosts_fire_schedules_so_either_alone_keeps_them_going() -> None:
    clock = FakeClock(MONDAY)
    store = MemoryPersistenceProvider()
    with hosts(2, clock, store) as [first, _]:
        first.add_schedule("hourly", "Report", "0 * * * *", data={})
        first.stop()
        clock.advance(HOUR)
        clock.advance(HOUR)
        instances = started(store, 2)
    assert ticks(instances) == [MONDAY + HOUR, MONDAY + 2 * HOUR]


@pytest.mark.parametrize(
    ("catch_up", "expected_hours"),
    [("latest", [1, 5]), ("all", [1, 2, 3, 4, 5]), ("none", [1])],
)
def test_ticks_missed_while_no_host_ran_follow_catch_up(catch_up: str, expected_hours: list[int]) -> None:
    clock = FakeClock(MONDAY)
    store = MemoryPersistenceProvider()
    with hosts(1, clock, store) as [host]:
        host.add_schedule("hourly", "Report", "0 * * * *", data={}, catch_up=catch_up)
        clock.advance(HOUR)
        started(store, 1)
    clock.advance(4 * HOUR + timedelta(minutes=30))  # down from 01:00 to 05:30: 02:00 to 05:00 missed
    with hosts(1, clock, store) as [host]:
        instances = started(store, len(expected_hours))
        time.sleep(0.1)
        assert len(started(store)) == len(expected_hours)
        assert host.get_schedules()[0].next_tick == MONDAY + 6 * HOUR
    assert ticks(instances) == [MONDAY + hour * HOUR for hour in expected_hours]
    assert [instance.data["ran_at"] for instance in instances][1:] == [
        MONDAY + timedelta(hours=5, minutes=30)
    ] * (len(expected_hours) - 1)


def test_catch_up_none_still_starts_a_tick_reached_on_time() -> None:
    clock = FakeClock(MONDAY)
    with hosts(1, clock) as [host]:
        host.add_schedule("hourly", "Report", "0 * * * *", data={}, catch_up="none")
        for _ in range(3):
            clock.advance(HOUR)
        instances = started(host.persistence_service, 3)
    assert ticks(instances) == [MONDAY + HOUR, MONDAY + 2 * HOUR, MONDAY + 3 * HOUR]


def berlin_nights(start: datetime, nights: int) -> list[datetime | None]:
    """The ticks of 02:30 in Berlin over `nights` days from `start`, hour by hour."""
    clock = FakeClock(start)
    with hosts(1, clock) as [host]:
        host.add_schedule("nightly", "Report", "30 2 * * *", data={}, timezone="Europe/Berlin")
        for _ in range(nights * 24):
            clock.advance(HOUR)
        return ticks(started(host.persistence_service, nights))


def test_ticks_follow_local_time_across_both_dst_changes() -> None:
    """02:30 in Berlin: on 29 March the clocks jump from 02:00 to 03:00 (the tick runs at 03:00,
    as Debian's cron does); on 25 October 02:30 comes twice (the tick runs once)."""
    assert berlin_nights(datetime(2026, 3, 28, tzinfo=UTC), 3) == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),  # 02:30 CET
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 03:00 CEST: 02:30 does not exist
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),  # 02:30 CEST
    ]
    assert berlin_nights(datetime(2026, 10, 24, 12, tzinfo=UTC), 2) == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the first 02:30 (CEST), not the second
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),  # 02:30 CET the next night
    ]


def test_a_paused_schedule_starts_nothing_and_resumes_at_its_next_tick() -> None:
    clock = FakeClock(MONDAY)
    with hosts(1, clock) as [host]:
        host.add_schedule("hourly", "Report", "0 * * * *", data={})
        assert host.pause_schedule("hourly") is True
        clock.advance(HOUR)
        clock.advance(HOUR)
        assert host.get_schedules()[0].paused is True
        assert host.resume_schedule("hourly") is True
        clock.advance(HOUR)
        instances = started(host.persistence_service, 1)
        assert host.pause_schedule("missing") is False
    assert ticks(instances) == [MONDAY + 3 * HOUR]


def test_adding_a_schedule_again_with_another_plan_replaces_it_and_remove_ends_it() -> None:
    clock = FakeClock(MONDAY)
    with hosts(1, clock) as [host]:
        host.add_schedule("report", "Report", "0 * * * *", data={"plan": 1})
        replaced = host.add_schedule("report", "Report", "30 * * * *", data={"plan": 2})
        assert replaced.next_tick == MONDAY + timedelta(minutes=30)
        assert host.get_schedules() == [replaced]
        clock.advance(HOUR)
        [instance] = started(host.persistence_service, 1)
        assert instance.data["plan"] == 2
        assert host.remove_schedule("report") is True
        assert host.remove_schedule("report") is False
        clock.advance(HOUR)
        time.sleep(0.1)
        assert len(started(host.persistence_service)) == 1
    assert schedule_tick(instance) == MONDAY + timedelta(minutes=30)


def test_each_tick_gets_its_own_copy_of_the_schedule_data() -> None:
    clock = FakeClock(MONDAY)
    with hosts(1, clock) as [host]:
        stored = host.add_schedule("hourly", "Report", "0 * * * *", data={"region": "eu"})
        assert isinstance(stored, CronSchedule) and stored.data == {"region": "eu"}
        clock.advance(HOUR)
        clock.advance(HOUR)
        first, second = started(host.persistence_service, 2)
    assert first.data["region"] == second.data["region"] == "eu"
    assert first.data is not second.data


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"cron": "0 9 * *"}, InvalidArgumentError, "five fields"),
        ({"cron": "0 25 * * *"}, InvalidArgumentError, "invalid cron expression '0 25 \\* \\* \\*'"),
        ({"cron": "0 9 * * MON-FRI", "timezone": "Mars/Olympus"}, InvalidArgumentError, "Mars/Olympus"),
        ({"catch_up": "some"}, InvalidArgumentError, "catch_up must be one of"),
        ({"schedule_id": ""}, InvalidArgumentError, "schedule_id"),
        ({"workflow_id": "Reprot"}, WorkflowNotRegisteredError, "Reprot"),
        ({"data": {"when": object()}}, Exception, "object"),
    ],
)
def test_a_bad_schedule_is_refused_where_it_is_added_and_nothing_is_stored(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with hosts(1, FakeClock(MONDAY)) as [host]:
        given = {"schedule_id": "daily", "workflow_id": "Report", "cron": "0 9 * * *", **arguments}
        with pytest.raises(error, match=message):
            host.add_schedule(given.pop("schedule_id"), given.pop("workflow_id"), given.pop("cron"), **given)
        assert host.get_schedules() == []
