"""Local wake-ups: queue a workflow or event id at its due time, without waiting for the poller.

Due times are on the scheduler's clock: the host's for workflow timers (a `FakeClock`
wakes them when it is advanced), the real one for the workers' short retry back-offs.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from datetime import datetime, timedelta

from .clock import Clock
from .providers import QueueProvider, QueueType

__all__ = ["WakeUpScheduler"]


class WakeUpScheduler:
    """One thread and a heap of due times; the earliest wake-up per id wins."""

    def __init__(
        self, queue_service: QueueProvider, logger: logging.Logger, clock: Clock, name: str = "scheduler"
    ) -> None:
        self._queue_service = queue_service
        self._logger = logger
        self._clock = clock
        self._name = name
        self._condition = threading.Condition()
        self._heap: list[tuple[datetime, int, QueueType, str]] = []
        self._earliest: dict[tuple[QueueType, str], datetime] = {}
        self._counter = itertools.count()
        self._stopped = True
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._condition:
            self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"liteflow-{self._name}", daemon=True)
        self._thread.start()

    def stop(self) -> threading.Thread | None:
        with self._condition:
            self._stopped = True
            self._heap.clear()
            self._earliest.clear()
            self._condition.notify_all()
        return self._thread

    def schedule(self, due: datetime, queue: QueueType, item: str) -> None:
        key = (queue, item)
        with self._condition:
            if self._stopped:
                return
            known = self._earliest.get(key)
            if known is not None and known <= due:
                return
            self._earliest[key] = due
            heapq.heappush(self._heap, (due, next(self._counter), queue, item))
            if self._heap[0][3] == item:
                self._condition.notify()

    def schedule_in(self, delay: timedelta, queue: QueueType, item: str) -> None:
        self.schedule(self._clock.now() + delay, queue, item)

    def pending(self) -> int:
        with self._condition:
            return len(self._earliest)

    def _next_due(self) -> tuple[QueueType, str] | None:
        """Wait for the earliest wake-up; return it when due, None when stopped."""
        with self._condition:
            while not self._stopped:
                if not self._heap:
                    self._condition.wait()
                    continue
                due, _, queue, item = self._heap[0]
                if due > self._clock.now():
                    self._clock.wait(self._condition, due)
                    continue
                heapq.heappop(self._heap)
                if self._earliest.get((queue, item)) != due:
                    continue
                del self._earliest[(queue, item)]
                return queue, item
            return None

    def _run(self) -> None:
        while True:
            entry = self._next_due()
            if entry is None:
                return
            queue, item = entry
            try:
                self._queue_service.queue_work(queue, item)
            except Exception:
                self._logger.exception("could not queue wake-up of %s %s", queue.name.lower(), item)
