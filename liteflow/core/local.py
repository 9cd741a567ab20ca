"""Single-node queue and lock: the defaults when one process runs every workflow."""

from __future__ import annotations

import threading
from collections import deque

from .providers import LockProvider, QueueProvider, QueueType

__all__ = ["SingleNodeQueueProvider", "LocalQueueProvider", "LocalLockProvider"]


class SingleNodeQueueProvider(QueueProvider):
    """In-process FIFO queues; an id already waiting in a queue is not added twice."""

    is_dequeue_blocking = True

    def __init__(self, dequeue_timeout: float = 1.0) -> None:
        self._dequeue_timeout = dequeue_timeout
        self._mutex = threading.Lock()
        self._conditions = {queue: threading.Condition(self._mutex) for queue in QueueType}
        self._queues: dict[QueueType, deque[str]] = {queue: deque() for queue in QueueType}
        self._waiting: dict[QueueType, set[str]] = {queue: set() for queue in QueueType}
        self._generation = 0
        self._draining = False

    def start(self) -> None:
        with self._mutex:
            self._draining = False

    def queue_work(self, queue: QueueType, data: str) -> None:
        queue = QueueType(queue)
        with self._mutex:
            if data in self._waiting[queue]:
                return
            self._waiting[queue].add(data)
            self._queues[queue].append(data)
            self._conditions[queue].notify()

    def dequeue_work(self, queue: QueueType) -> str | None:
        queue = QueueType(queue)
        condition = self._conditions[queue]
        with self._mutex:
            items = self._queues[queue]
            if self._draining:
                return None
            if not items:
                generation = self._generation
                condition.wait_for(
                    lambda: bool(items) or self._generation != generation, self._dequeue_timeout
                )
                if not items:
                    return None
            data = items.popleft()
            self._waiting[queue].discard(data)
            if items:
                condition.notify()
            return data

    def wake_dequeues(self) -> None:
        with self._mutex:
            self._draining = True
            self._generation += 1
            for condition in self._conditions.values():
                condition.notify_all()

    def shutdown(self) -> None:
        """Nothing to release: the queues live in this process (and keep their items)."""
        self.wake_dequeues()

    def __len__(self) -> int:
        with self._mutex:
            return sum(len(items) for items in self._queues.values())


LocalQueueProvider = SingleNodeQueueProvider


class LocalLockProvider(LockProvider):
    """Locks held in a set, shared by the threads of one process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: set[str] = set()

    def acquire_lock(self, resource: str) -> bool:
        with self._guard:
            if resource in self._held:
                return False
            self._held.add(resource)
            return True

    def release_lock(self, resource: str) -> None:
        with self._guard:
            self._held.discard(resource)

    def holds_lock(self, resource: str) -> bool:
        with self._guard:
            return resource in self._held

    def shutdown(self) -> None:
        with self._guard:
            self._held.clear()
