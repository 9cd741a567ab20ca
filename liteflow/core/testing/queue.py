"""The contract every queue provider must honour, as runnable checks."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

from ..providers import QueueProvider, QueueType
from ._suite import ProviderSuite

__all__ = ["QueueProviderConformance"]


class QueueProviderConformance(ProviderSuite[QueueProvider]):
    """Checks for `QueueProvider`; implement `create_provider` (fresh, empty queues)."""

    #: The longest a `dequeue_work` on an empty queue may take before returning None.
    max_empty_dequeue_seconds: float = 5.0

    def dispose_provider(self, provider: QueueProvider) -> None:
        """Release a provider made by `create_provider`; `shutdown()` by default."""
        provider.shutdown()

    def drain(self, provider: QueueProvider, queue: QueueType, expected: int) -> list[str]:
        """Dequeue (and complete) until `expected` items arrived or an empty dequeue."""
        items: list[str] = []
        while len(items) < expected:
            item = provider.dequeue_work(queue)
            if item is None:
                break
            provider.complete_work(queue, item)
            items.append(item)
        return items

    def test_queued_items_come_back(self) -> None:
        with self.provider() as queue:
            sent = [uuid.uuid4().hex for _ in range(5)]
            for item in sent:
                queue.queue_work(QueueType.WORKFLOW, item)
            assert sorted(self.drain(queue, QueueType.WORKFLOW, 5)) == sorted(sent)

    def test_workflow_and_event_queues_are_separate(self) -> None:
        with self.provider() as queue:
            queue.queue_work(QueueType.WORKFLOW, "workflow-1")
            queue.queue_work(QueueType.EVENT, "event-1")
            assert self.drain(queue, QueueType.EVENT, 1) == ["event-1"]
            assert self.drain(queue, QueueType.WORKFLOW, 1) == ["workflow-1"]

    def test_empty_dequeue_returns_none_within_its_bound(self) -> None:
        with self.provider() as queue:
            started = time.monotonic()
            assert queue.dequeue_work(QueueType.EVENT) is None
            assert time.monotonic() - started < self.max_empty_dequeue_seconds

    def test_concurrent_consumers_get_every_item_exactly_once(self) -> None:
        with self.provider() as queue:
            sent = [f"item-{n}-{uuid.uuid4().hex[:8]}" for n in range(200)]
            received: list[str] = []
            received_lock = threading.Lock()
            producers_done = threading.Event()

            def produce(chunk: list[str]) -> None:
                for item in chunk:
                    queue.queue_work(QueueType.WORKFLOW, item)

            def consume() -> None:
                idle_after_done = 0
                while idle_after_done < 2:
                    item = queue.dequeue_work(QueueType.WORKFLOW)
                    if item is None:
                        if producers_done.is_set():
                            idle_after_done += 1
                        continue
                    queue.complete_work(QueueType.WORKFLOW, item)
                    with received_lock:
                        received.append(item)

            producers = [threading.Thread(target=produce, args=(sent[n::4],)) for n in range(4)]
            consumers = [threading.Thread(target=consume) for _ in range(4)]
            for thread in consumers + producers:
                thread.start()
            for thread in producers:
                thread.join()
            producers_done.set()
            for thread in consumers:
                thread.join()
            duplicates = [item for item, count in Counter(received).items() if count > 1]
            assert duplicates == []
            assert sorted(received) == sorted(sent)

    def test_shutdown_wakes_a_blocked_dequeue(self) -> None:
        with self.provider() as queue:
            finished = threading.Event()

            def wait() -> None:
                queue.dequeue_work(QueueType.WORKFLOW)
                finished.set()

            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(0.05)
            queue.shutdown()
            assert finished.wait(self.max_empty_dequeue_seconds)
            thread.join()
