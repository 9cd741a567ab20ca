"""What the host's background threads share, and the loop each queue worker runs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from .lifecycle_dispatch import LifecycleDispatcher
from .middleware import Middleware
from .options import HostOptions
from .providers import LockProvider, PersistenceProvider, QueueProvider, QueueType
from .scheduler import WakeUpScheduler
from .worker_gate import WorkerGate

__all__ = ["ControlRequests", "Services", "RetryLater", "consume", "FAILED_ITEM_RETRIES"]

#: Tries a worker makes, backing off over about 3 s, to handle an item whose handler raised.
FAILED_ITEM_RETRIES = 8


class ControlRequests:
    """Instances a suspend, resume or terminate call waits to lock: workers let go of them.

    Without it, a worker running an instance that is always due would take its lock back at
    once after each turn, and the call would never get it.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def requested(self, workflow_id: str) -> Iterator[None]:
        with self._lock:
            self._ids[workflow_id] = self._ids.get(workflow_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._ids.pop(workflow_id) - 1
                if left:
                    self._ids[workflow_id] = left

    def __contains__(self, workflow_id: object) -> bool:
        return bool(self._ids) and workflow_id in self._ids


class Services:
    """What every background thread shares."""

    def __init__(
        self,
        persistence: PersistenceProvider,
        queue: QueueProvider,
        lock: LockProvider,
        scheduler: WakeUpScheduler,
        options: HostOptions,
        stopping: threading.Event,
        control: ControlRequests,
        *,
        retry_scheduler: WakeUpScheduler | None = None,
        middleware: Middleware | None = None,
        lifecycle: LifecycleDispatcher | None = None,
    ) -> None:
        self.persistence = persistence
        self.queue = queue
        self.lock = lock
        #: Wake-ups at times of the host's clock (timers, due events).
        self.scheduler = scheduler
        #: Wake-ups after real seconds (the workers' back-offs), whatever the host's clock.
        self.retry_scheduler = retry_scheduler or scheduler
        self.options = options
        self.logger = options.logger
        self.clock = options.clock
        self.stopping = stopping
        self.control = control
        self.middleware = middleware or Middleware()
        self.lifecycle = lifecycle

    def wake_at_next_execution(self, workflow_id: str, next_execution: datetime | None) -> None:
        """Queue the instance now if due, else set a local timer for it."""
        if next_execution is None:
            return
        if next_execution <= self.clock.now():
            self.queue.queue_work(QueueType.WORKFLOW, workflow_id)
        else:
            self.scheduler.schedule(next_execution, QueueType.WORKFLOW, workflow_id)


class RetryLater:
    """Queues an id again after a backoff (20 ms doubling to a second), at most `limit` times
    in a row (None: until it succeeds)."""

    def __init__(self, services: Services, queue: QueueType, limit: int | None) -> None:
        self._services = services
        self._queue = queue
        self._limit = limit
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def schedule(self, item_id: str) -> bool:
        """Queue `item_id` again later; False (and forget it) once `limit` tries were made."""
        with self._lock:
            attempt = self._attempts.get(item_id, 0) + 1
            if self._limit is not None and attempt > self._limit:
                del self._attempts[item_id]
                return False
            self._attempts[item_id] = attempt
        delay = timedelta(seconds=min(0.01 * 2**attempt, 1.0))
        self._services.retry_scheduler.schedule_in(delay, self._queue, item_id)
        return True

    def succeeded(self, item_id: str) -> None:
        if self._attempts:  # the usual case, an id that never waited, takes no lock
            with self._lock:
                self._attempts.pop(item_id, None)


def consume(
    services: Services,
    queue: QueueType,
    handle: Callable[[str], None],
    gate: WorkerGate | None = None,
    worker: int = 0,
) -> None:
    """A worker thread's loop: take ids from `queue` until the host stops; never die.

    An item whose handler raised (a store that failed for a moment) is tried again a few
    times with a backoff, rather than left to the poller; either way it is acknowledged.
    With a `gate`, this is worker number `worker` of those sharing it, and takes an item only
    when the gate says it is needed.
    """
    failures = RetryLater(services, queue, limit=FAILED_ITEM_RETRIES)
    kind = queue.name.lower()
    if gate is not None:
        gate.register(worker)
    while not services.stopping.is_set():
        if gate is not None and not gate.wait_until_needed(worker):
            break
        try:
            item = services.queue.dequeue_work(queue)
        except Exception:
            services.logger.exception("could not dequeue from the %s queue", kind)
            services.stopping.wait(services.options.idle_time.total_seconds())
            continue
        if item is None:
            if not services.queue.is_dequeue_blocking:
                services.stopping.wait(services.options.idle_time.total_seconds())
            continue
        if gate is not None:
            gate.started(worker)
        try:
            handle(item)
            failures.succeeded(item)
        except Exception:
            again = failures.schedule(item)
            services.logger.exception(
                "error while handling %s %s; %s",
                kind,
                item,
                "trying again shortly" if again else "leaving it to the poller",
            )
        try:
            services.queue.complete_work(queue, item)
        except Exception:
            services.logger.exception("could not acknowledge %s %s", kind, item)
        if gate is not None:
            gate.finished(worker)
