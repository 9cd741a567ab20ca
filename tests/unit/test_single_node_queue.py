"""The in-process queue's wake-ups: a consumer asleep on an empty queue is woken by the item
queued for it, not by its dequeue timeout (`liteflow.core.local`)."""

from __future__ import annotations

import threading
import time

from liteflow.core import SingleNodeQueueProvider
from liteflow.core.providers import QueueType

__all__: list[str] = []

#: Far longer than any wake-up may take: a missed wake-up shows as a wait this long.
TIMEOUT = 30.0
WAKE_BOUND = 2.0


def _consumers(
    queue: SingleNodeQueueProvider, count: int
) -> tuple[list[tuple[str, float]], list[threading.Thread]]:
    received: list[tuple[str, float]] = []

    def consume() -> None:
        while not queue._draining:  # None also comes back when another consumer took the item
            item = queue.dequeue_work(QueueType.WORKFLOW)
            if item is not None:
                received.append((item, time.monotonic()))

    threads = [threading.Thread(target=consume, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return received, threads


def _wait_asleep(queue: SingleNodeQueueProvider, count: int) -> None:
    deadline = time.monotonic() + WAKE_BOUND
    while queue._sleepers[QueueType.WORKFLOW] < count:
        assert time.monotonic() < deadline, "the consumers did not go to sleep on the empty queue"
        time.sleep(0.001)


def _wait_for(received: list[tuple[str, float]], count: int) -> None:
    deadline = time.monotonic() + WAKE_BOUND
    while len(received) < count:
        assert time.monotonic() < deadline, f"only {len(received)} of {count} items were taken"
        time.sleep(0.001)


def test_each_item_queued_while_every_consumer_sleeps_is_taken_at_once() -> None:
    queue = SingleNodeQueueProvider(dequeue_timeout=TIMEOUT)
    received, threads = _consumers(queue, 3)
    try:
        for n in range(20):
            _wait_asleep(queue, 3)
            queued = time.monotonic()
            queue.queue_work(QueueType.WORKFLOW, f"item-{n}")
            _wait_for(received, n + 1)
            item, taken = received[-1]
            assert item == f"item-{n}"
            assert taken - queued < WAKE_BOUND
    finally:
        queue.shutdown()
        for thread in threads:
            thread.join(TIMEOUT)


def test_a_burst_queued_while_consumers_sleep_is_taken_in_order_without_waiting_for_timeouts() -> None:
    queue = SingleNodeQueueProvider(dequeue_timeout=TIMEOUT)
    received, threads = _consumers(queue, 3)
    try:
        _wait_asleep(queue, 3)
        queued = time.monotonic()
        for n in range(100):
            queue.queue_work(QueueType.WORKFLOW, f"item-{n}")
        _wait_for(received, 100)
        assert sorted(item for item, _ in received) == sorted(f"item-{n}" for n in range(100))
        assert max(taken for _, taken in received) - queued < WAKE_BOUND
        _wait_asleep(queue, 3)  # each woken consumer went back to sleep, counted once
        assert queue._sleepers[QueueType.WORKFLOW] == 3
    finally:
        queue.shutdown()
        for thread in threads:
            thread.join(TIMEOUT)


def test_an_id_already_waiting_is_not_queued_twice_but_may_be_queued_again_once_taken() -> None:
    queue = SingleNodeQueueProvider(dequeue_timeout=0.05)
    queue.queue_work(QueueType.WORKFLOW, "same")
    queue.queue_work(QueueType.WORKFLOW, "same")
    assert queue.dequeue_work(QueueType.WORKFLOW) == "same"
    assert queue.dequeue_work(QueueType.WORKFLOW) is None
    queue.queue_work(QueueType.WORKFLOW, "same")
    assert queue.dequeue_work(QueueType.WORKFLOW) == "same"
