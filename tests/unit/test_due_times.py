"""The in-memory store's index of wake-up times (`liteflow.core.due_times`)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from liteflow.core.due_times import DueTimes

__all__: list[str] = []

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


def test_due_ids_come_earliest_first_and_stay_due_until_changed() -> None:
    times = DueTimes()
    times.set("late", T0 + 2 * MINUTE)
    times.set("early", T0)
    times.set("later", T0 + 60 * MINUTE)
    assert times.due(T0 + 5 * MINUTE) == ["early", "late"]
    assert times.due(T0 + 5 * MINUTE) == ["early", "late"]  # a look-up takes nothing away


def test_an_id_moved_or_cleared_is_due_only_at_its_new_time() -> None:
    times = DueTimes()
    times.set("moved", T0)
    times.set("cleared", T0)
    times.set("moved", T0 + 10 * MINUTE)
    times.set("cleared", None)
    assert times.due(T0 + MINUTE) == []
    assert times.due(T0 + 10 * MINUTE) == ["moved"]


def test_an_id_set_back_and_forth_many_times_is_due_once() -> None:
    times = DueTimes()
    for n in range(5000):
        times.set("busy", T0 + (n % 2) * MINUTE)
    times.set("busy", T0)
    assert times.due(T0 + MINUTE) == ["busy"]


def test_times_set_from_many_threads_at_once_keep_each_ids_last_time() -> None:
    times = DueTimes()
    ids = [f"workflow-{n}" for n in range(4000)]

    def set_all(chunk: list[str]) -> None:
        for item in chunk:
            times.set(item, T0)  # due
            times.set(item, T0 + 60 * MINUTE if item.endswith("7") else T0 + MINUTE)

    threads = [threading.Thread(target=set_all, args=(ids[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    looked_up = [times.due(T0 + 2 * MINUTE) for _ in range(20)]  # look-ups during the writes
    for thread in threads:
        thread.join()
    assert all(len(found) == len(set(found)) for found in looked_up)
    assert sorted(times.due(T0 + 2 * MINUTE)) == sorted(item for item in ids if not item.endswith("7"))
    assert sorted(times.due(T0 + 60 * MINUTE)) == sorted(ids)


def test_more_times_set_than_the_pending_limit_are_all_kept() -> None:
    times = DueTimes()
    for n in range(25_000):
        times.set(f"workflow-{n}", T0 + n * timedelta(microseconds=1))
    found = times.due(T0 + MINUTE)
    assert found == [f"workflow-{n}" for n in range(25_000)]
