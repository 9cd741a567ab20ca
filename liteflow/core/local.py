"""Single-node queue and lock: the defaults when one process runs every workflow."""

from __future__ import annotations

import threading
from collections import deque

from .providers import LockProvider, QueueProvider, QueueType

__all__ = ["SingleNodeQueueProvider", "LocalQueueProvider", "LocalLockProvider"]


class SingleNodeQueueProvider(QueueProvider):
    """In-process FIFO queues; an id already waiting in a queue is not added twice.

    Adding and taking are single operations on a deque and a dict, atomic by themselves, so
    neither takes a lock unless a consumer sleeps on an empty queue: a producer and busy
    consumers never meet on a lock (where every meeting costs both threads a switch).
    """

    is_dequeue_blocking = True

    def __init__(self, dequeue_timeout: float = 1.0) -> None:
        self._dequeue_timeout = dequeue_timeout
        self._mutex = threading.Lock()
        self._conditions = {queue: threading.Condition(self._mutex) for queue in QueueType}
        self._queues: dict[QueueType, deque[str]] = {queue: deque() for queue in QueueType}
        #: The ids in each queue (a dict: `setdefault` adds one only if it is not there).
        self._waiting: dict[QueueType, dict[str, object]] = {queue: {} for queue in QueueType}
        #: Consumers asleep on each queue and not yet woken, counted under the mutex.
        self._sleepers: dict[QueueType, int] = {queue: 0 for queue in QueueType}
        self._draining = False

    def start(self) -> None:
        with self._mutex:
            self._draining = False

    def queue_work(self, queue: QueueType, data: str) -> None:
        queue = QueueType(queue)
        token = object()
        if self._waiting[queue].setdefault(data, token) is not token:
            return
        self._queues[queue].append(data)
        # Appended before the count is read: a consumer counted later sees the item. Waking
        # one uncounts it, so the items that follow before it runs wake no one else.
        if self._sleepers[queue]:
            with self._mutex:
                if self._sleepers[queue]:
                    self._sleepers[queue] -= 1
                    self._conditions[queue].notify()

    def dequeue_work(self, queue: QueueType) -> str | None:
        queue = QueueType(queue)
        if self._draining:
            return None
        items = self._queues[queue]
        data: str | None
        try:
            data = items.popleft()
        except IndexError:
            data = self._sleep_for_item(queue, items)
        if data is not None:
            self._waiting[queue].pop(data, None)
        return data

    def _sleep_for_item(self, queue: QueueType, items: deque[str]) -> str | None:
        condition = self._conditions[queue]
        with self._mutex:
            if not items:
                self._sleepers[queue] += 1
                woken = False
                try:
                    woken = condition.wait(self._dequeue_timeout)
                finally:
                    # A count left wrong (an interrupted wait) costs at most one timeout.
                    if not woken and self._sleepers[queue] > 0:
                        self._sleepers[queue] -= 1
            if self._draining:
                return None
            try:
                return items.popleft()
            except IndexError:
                return None

    def wake_dequeues(self) -> None:
        with self._mutex:
            self._draining = True
            for queue in QueueType:
                self._sleepers[queue] = 0
            for condition in self._conditions.values():
                condition.notify_all()

    def shutdown(self) -> None:
        """Nothing to release: the queues live in this process (and keep their items)."""
        self.wake_dequeues()

    def __len__(self) -> int:
        return sum(len(items) for items in self._queues.values())


LocalQueueProvider = SingleNodeQueueProvider


class LocalLockProvider(LockProvider):
    """Locks held in a dict shared by the threads of one process.

    Taking one is a single `setdefault` (atomic by itself), so threads taking different
    locks never wait for each other.
    """

    def __init__(self) -> None:
        self._held: dict[str, object] = {}

    def acquire_lock(self, resource: str) -> bool:
        token = object()
        return self._held.setdefault(resource, token) is token

    def release_lock(self, resource: str) -> None:
        self._held.pop(resource, None)

    def holds_lock(self, resource: str) -> bool:
        return resource in self._held

    def shutdown(self) -> None:
        self._held.clear()
