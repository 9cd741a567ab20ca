"""When the host's extra workflow workers take work (`liteflow.core.worker_gate`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from liteflow.core.worker_gate import WorkerGate, gated_worker
from tests.support import wait_until

__all__: list[str] = []

PATIENCE = 0.05


def _waiting(gate: WorkerGate, worker: int) -> tuple[threading.Event, threading.Thread]:
    """Worker `worker` waiting to be needed; the event is set once it is (or the gate closed)."""
    released = threading.Event()

    def wait() -> None:
        gate.wait_until_needed(worker)
        released.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return released, thread


def test_the_first_worker_is_always_needed() -> None:
    gate = WorkerGate(4, PATIENCE)
    assert gate.wait_until_needed(0) is True


def test_an_extra_worker_sleeps_while_the_first_is_idle_or_quick() -> None:
    gate = WorkerGate(2, PATIENCE)
    released, thread = _waiting(gate, 1)
    assert not released.wait(3 * PATIENCE)  # the first worker idle
    for _ in range(20):  # the first worker taking quick items, one after another
        gate.started(0)
        time.sleep(PATIENCE / 10)
        gate.finished(0)
    assert not released.is_set()
    gate.close()
    thread.join(5)


def test_an_extra_worker_helps_once_the_first_has_been_in_one_item_for_the_patience() -> None:
    gate = WorkerGate(2, PATIENCE)
    released, thread = _waiting(gate, 1)
    stuck_at = time.monotonic()
    gate.started(0)  # a step that blocks
    assert released.wait(5)
    waited = time.monotonic() - stuck_at
    assert PATIENCE <= waited < PATIENCE + 1.0
    thread.join(5)


def test_the_third_worker_helps_only_when_both_before_it_are_stuck() -> None:
    gate = WorkerGate(3, PATIENCE)
    gate.started(0)
    released, thread = _waiting(gate, 2)
    assert not released.wait(3 * PATIENCE)  # worker 1 has nothing in hand
    gate.started(1)
    assert released.wait(5)
    thread.join(5)


def test_a_sleeping_extra_worker_is_woken_when_the_first_starts_an_item_and_stays_in_it() -> None:
    gate = WorkerGate(2, PATIENCE)
    released, thread = _waiting(gate, 1)
    wait_until(lambda: gate._sleepers == 1, what="the extra worker to sleep")
    started = time.monotonic()
    gate.started(0)
    assert released.wait(5)
    assert time.monotonic() - started < 0.5  # not its one-second idle sleep
    thread.join(5)


def test_closing_releases_every_waiting_worker_with_false() -> None:
    gate = WorkerGate(3, PATIENCE)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda n=n: results.append(gate.wait_until_needed(n))) for n in (1, 2)]
    for thread in threads:
        thread.start()
    gate.close()
    for thread in threads:
        thread.join(5)
    assert results == [False, False]
    assert gate.wait_until_needed(0) is False


def _first_worker(gate: WorkerGate, item: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """Worker 0 taking items one after another, each running `item`, until `stop`."""

    def work() -> None:
        gate.register(0)
        while not stop.is_set():
            gate.started(0)
            item()
            gate.finished(0)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _extra_worker_released(item: Callable[[], None], within: float) -> bool:
    """Whether worker 1 is let in within `within` s while worker 0 runs `item` after `item`."""
    gate = WorkerGate(2, PATIENCE)
    stop = threading.Event()
    first = _first_worker(gate, item, stop)
    released, thread = _waiting(gate, 1)
    try:
        return released.wait(within)
    finally:
        stop.set()
        first.join(5)
        gate.close()
        thread.join(5)


def test_an_extra_worker_helps_when_the_first_waits_in_short_items_one_after_another() -> None:
    # each item shorter than the patience
    assert _extra_worker_released(lambda: time.sleep(PATIENCE / 5), within=5)


def test_an_extra_worker_stays_out_while_the_first_runs_short_items_on_the_cpu() -> None:
    assert not _extra_worker_released(lambda: _spin(PATIENCE / 5), within=20 * PATIENCE)


def test_an_extra_worker_that_helps_takes_its_next_item_without_measuring_a_new_window() -> None:
    gate = WorkerGate(2, PATIENCE)
    stop = threading.Event()
    first = _first_worker(gate, lambda: time.sleep(PATIENCE / 5), stop)
    try:
        released, thread = _waiting(gate, 1)
        assert released.wait(5)
        thread.join(5)
        answer_times: list[float] = []
        for _ in range(5):  # its own short items, one after another, each asking again
            gate.started(1)
            time.sleep(PATIENCE / 50)
            gate.finished(1)
            asked = time.monotonic()
            assert gate.wait_until_needed(1)
            answer_times.append(time.monotonic() - asked)
        # Each answer within a fraction of the patience: the judgement of the window stands.
        assert max(answer_times) < PATIENCE / 2, answer_times
    finally:
        stop.set()
        first.join(5)


def _inside_a_step(seconds: float) -> None:
    """What the executor does around a step body on a gated worker, the body on the CPU."""
    slot = gated_worker()
    assert slot is not None
    slot.step_started()
    _spin(seconds)
    slot.step_ended()


def test_an_extra_worker_helps_when_the_first_spends_its_items_inside_steps() -> None:
    # on the CPU all along, but inside step bodies
    assert _extra_worker_released(lambda: _inside_a_step(PATIENCE / 5), within=5)


def test_a_thread_that_is_no_gated_worker_has_no_slot() -> None:
    gate = WorkerGate(1, PATIENCE)
    assert gated_worker() is None
    slots: list[object] = []
    worker = threading.Thread(target=lambda: (gate.register(0), slots.append(gated_worker())))
    worker.start()
    worker.join(5)
    assert slots and slots[0] is not None
    assert gated_worker() is None
