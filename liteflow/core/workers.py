"""The host's background threads: workflow consumers, event consumers and the poller."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from .clock import utcnow
from .errors import SerializationError
from .executor import WorkflowExecutor
from .options import HostOptions
from .providers import LockProvider, PersistenceProvider, QueueProvider, QueueType
from .records import Event, EventSubscription, ExecutionError, WorkflowInstance
from .scheduler import WakeUpScheduler

__all__ = ["Services", "RetryLater", "WorkflowConsumer", "EventConsumer", "RunnablePoller", "event_lock_name"]

#: Passes one worker runs back to back on one instance before letting others have a turn.
MAX_INLINE_PASSES = 100
#: Tries a worker makes, backing off over about 3 s, to run an instance it found locked.
LOCKED_WORKFLOW_RETRIES = 8
POLL_RUNNABLES_LOCK = "liteflow:poll-runnables"
POLL_EVENTS_LOCK = "liteflow:poll-events"


def event_lock_name(event_id: str) -> str:
    return f"liteflow:event:{event_id}"


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
        notify_parent: Callable[[WorkflowInstance], None],
    ) -> None:
        self.persistence = persistence
        self.queue = queue
        self.lock = lock
        self.scheduler = scheduler
        self.options = options
        self.logger = options.logger
        self.stopping = stopping
        self.notify_parent = notify_parent
        self._handling = 0
        self._handled = threading.Condition()

    @contextmanager
    def handling(self) -> Iterator[None]:
        """Mark an item as in hand, from dequeue to acknowledgement."""
        with self._handled:
            self._handling += 1
        try:
            yield
        finally:
            with self._handled:
                self._handling -= 1
                if not self._handling:
                    self._handled.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until no item is in hand, so the queue can still acknowledge the last ones."""
        with self._handled:
            return self._handled.wait_for(lambda: not self._handling, timeout)

    def wake_at_next_execution(self, workflow_id: str, next_execution: datetime | None) -> None:
        """Queue the instance now if due, else set a local timer for it."""
        if next_execution is None:
            return
        if next_execution <= utcnow():
            self.queue.queue_work(QueueType.WORKFLOW, workflow_id)
        else:
            self.scheduler.schedule(next_execution, QueueType.WORKFLOW, workflow_id)


def consume(services: Services, queue: QueueType, handle: Callable[[str], None]) -> None:
    """A worker thread's loop: take ids from `queue` until the host stops; never die."""
    while not services.stopping.is_set():
        try:
            item = services.queue.dequeue_work(queue)
        except Exception:
            services.logger.exception("could not dequeue from the %s queue", queue.name.lower())
            services.stopping.wait(services.options.idle_time.total_seconds())
            continue
        if item is None:
            if not services.queue.is_dequeue_blocking:
                services.stopping.wait(services.options.idle_time.total_seconds())
            continue
        with services.handling():
            try:
                handle(item)
            except Exception:
                services.logger.exception("error while handling %s %s", queue.name.lower(), item)
            try:
                services.queue.complete_work(queue, item)
            except Exception:
                services.logger.exception("could not acknowledge %s %s", queue.name.lower(), item)


class RetryLater:
    """Queues an id again after a backoff (20 ms doubling to a second) when its work found a
    lock taken, at most `limit` times in a row (None: until it succeeds)."""

    def __init__(self, services: Services, queue: QueueType, limit: int | None) -> None:
        self._services = services
        self._queue = queue
        self._limit = limit
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def schedule(self, item_id: str) -> None:
        with self._lock:
            attempt = self._attempts.get(item_id, 0) + 1
            if self._limit is not None and attempt > self._limit:
                del self._attempts[item_id]
                return
            self._attempts[item_id] = attempt
        delay = timedelta(seconds=min(0.01 * 2**attempt, 1.0))
        self._services.scheduler.schedule(utcnow() + delay, self._queue, item_id)

    def succeeded(self, item_id: str) -> None:
        if self._attempts:  # the usual case, an id that never waited, takes no lock
            with self._lock:
                self._attempts.pop(item_id, None)


class EventConsumer:
    """Delivers stored events to the subscriptions that match them."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._retries = RetryLater(services, QueueType.EVENT, limit=None)

    def run(self) -> None:
        consume(self._services, QueueType.EVENT, self.process_event)

    def process_event(self, event_id: str) -> None:
        services = self._services
        lock_name = event_lock_name(event_id)
        if not services.lock.acquire_lock(lock_name):
            self._retries.schedule(event_id)
            return
        delivered = True
        try:
            event = services.persistence.get_event(event_id)
            if event is None:
                return
            if event.event_time is not None and event.event_time > utcnow():
                services.scheduler.schedule(event.event_time, QueueType.EVENT, event_id)
                return
            subscriptions = services.persistence.get_subscriptions(
                event.event_name, event.event_key, event.event_time or utcnow()
            )
            for subscription in subscriptions:
                delivered = self._deliver(event, subscription) and delivered
            if delivered:
                services.persistence.mark_event_processed(event_id)
                self._retries.succeeded(event_id)
        finally:
            services.lock.release_lock(lock_name)
        if not delivered:
            # A busy workflow will be free in moments.
            self._retries.schedule(event_id)

    def _deliver(self, event: Event, subscription: EventSubscription) -> bool:
        """Wake the subscribed pointer with the earliest event at or after its as-of time.

        Events may be processed out of order (retries, several nodes); choosing the earliest
        one here makes what a subscription receives independent of that order.
        """
        services = self._services
        workflow_id = subscription.workflow_id
        if not services.lock.acquire_lock(workflow_id):
            return False
        woken = False
        try:
            delivered = self._earliest_event(subscription, event)
            workflow = services.persistence.get_workflow_instance(workflow_id)
            if workflow is not None:
                for pointer in workflow.execution_pointers:
                    matches = (
                        pointer.id == subscription.execution_pointer_id
                        if subscription.execution_pointer_id
                        else pointer.event_name == subscription.event_name
                        and pointer.event_key == subscription.event_key
                    )
                    if matches and not pointer.event_published and pointer.end_time is None:
                        pointer.event_data = delivered.event_data
                        pointer.event_published = True
                        pointer.active = True
                        woken = True
                if woken:
                    if not services.lock.holds_lock(workflow_id):
                        services.logger.error(
                            "lost the lock on workflow %s while delivering event %s; retrying",
                            workflow_id,
                            event.id,
                        )
                        return False
                    workflow.next_execution = utcnow()
                    services.persistence.persist_workflow(workflow)
            services.persistence.terminate_subscription(subscription.id)
        finally:
            services.lock.release_lock(workflow_id)
        if woken and workflow is not None and workflow.status == WorkflowInstance.RUNNABLE:
            services.queue.queue_work(QueueType.WORKFLOW, workflow_id)
        return True

    def _earliest_event(self, subscription: EventSubscription, event: Event) -> Event:
        as_of = subscription.subscribe_as_of or event.event_time or utcnow()
        candidates = self._services.persistence.get_events(
            subscription.event_name, subscription.event_key, as_of
        )
        if not candidates or candidates[0] == event.id:
            return event
        return self._services.persistence.get_event(candidates[0]) or event

    def reopen_earlier_events(self, subscriptions: list[EventSubscription]) -> list[str]:
        """Mark the earliest event each new subscription should receive (one published before
        it existed, but not before its as-of time) unprocessed; return their ids to queue.

        Done before the subscriptions are stored, so a crash in between leaves the event for
        the poller rather than losing it.
        """
        reopened: list[str] = []
        for subscription in subscriptions:
            as_of = subscription.subscribe_as_of or utcnow()
            candidates = self._services.persistence.get_events(
                subscription.event_name, subscription.event_key, as_of
            )
            if candidates:
                self._services.persistence.mark_event_unprocessed(candidates[0])
                reopened.append(candidates[0])
        return reopened


class WorkflowConsumer:
    """Takes workflow ids from the queue and runs their due steps under the instance's lock."""

    def __init__(self, services: Services, executor: WorkflowExecutor, events: EventConsumer) -> None:
        self._services = services
        self._executor = executor
        self._events = events
        # The holder of the lock queues the instance again when it is due, but a distributed
        # lock can also be held by no one (contenders that each won a minority of Redlock's
        # servers all gave up): a few retries cover that without waiting for the poller.
        self._retries = RetryLater(services, QueueType.WORKFLOW, limit=LOCKED_WORKFLOW_RETRIES)

    def run(self) -> None:
        consume(self._services, QueueType.WORKFLOW, self.process_workflow)

    def process_workflow(self, workflow_id: str) -> None:
        services = self._services
        if not services.lock.acquire_lock(workflow_id):
            services.logger.debug("workflow %s is locked by another worker; retrying soon", workflow_id)
            self._retries.schedule(workflow_id)
            return
        self._retries.succeeded(workflow_id)
        reopened: list[str] = []
        subscribed: list[EventSubscription] = []
        next_execution: datetime | None = None
        try:
            workflow = services.persistence.get_workflow_instance(workflow_id)
            if workflow is None or workflow.status != WorkflowInstance.RUNNABLE:
                return
            if workflow.next_execution is None or workflow.next_execution > utcnow():
                next_execution = workflow.next_execution
                return
            for _ in range(MAX_INLINE_PASSES):
                report = self._executor.execute(workflow)
                if not services.lock.holds_lock(workflow_id):
                    services.logger.error(
                        "lost the lock on workflow %s during a pass; its result is discarded "
                        "and the steps will run again",
                        workflow_id,
                    )
                    return
                services.notify_parent(workflow)
                reopened.extend(self._events.reopen_earlier_events(report.subscriptions))
                if not self._persist(workflow, report.subscriptions, report.errors):
                    return
                subscribed.extend(report.subscriptions)

                next_execution = workflow.next_execution
                if next_execution is None or next_execution > utcnow() or services.stopping.is_set():
                    break
        finally:
            services.lock.release_lock(workflow_id)
        # Looked up again now the subscriptions are stored: an event published between the
        # first look and the store may already have been processed without them.
        reopened.extend(self._events.reopen_earlier_events(subscribed))
        for event_id in dict.fromkeys(reopened):
            services.queue.queue_work(QueueType.EVENT, event_id)
        services.wake_at_next_execution(workflow_id, next_execution)

    def _persist(
        self,
        workflow: WorkflowInstance,
        subscriptions: list[EventSubscription],
        errors: list[ExecutionError],
    ) -> bool:
        services = self._services
        if errors:
            services.persistence.persist_errors(errors)
        try:
            services.persistence.persist_workflow(workflow, subscriptions)
        except SerializationError as exc:
            self._suspend_unstorable(workflow.id, exc)
            return False
        return True

    def _suspend_unstorable(self, workflow_id: str, exc: SerializationError) -> None:
        """A step produced data the store cannot hold: keep the last stored state, suspended,
        so fixing the code and resuming continues from there."""
        services = self._services
        services.logger.error(
            "workflow %s: the result of this pass cannot be stored (%s); the workflow is "
            "suspended at its last stored state",
            workflow_id,
            exc,
        )
        error = ExecutionError()
        error.error_time = utcnow()
        error.workflow_id = workflow_id
        error.message = f"SerializationError: {exc}"
        services.persistence.persist_errors([error])
        stored = services.persistence.get_workflow_instance(workflow_id)
        if stored is not None:
            stored.status = WorkflowInstance.SUSPENDED
            stored.next_execution = None
            services.persistence.persist_workflow(stored)


class RunnablePoller:
    """Every poll interval, queues due instances and unprocessed events found in the store.

    Local timers wake this node's own work on time; the poller finds what a restart or
    another node left behind. One node polls at a time (it takes a lock to do so).
    """

    def __init__(self, services: Services) -> None:
        self._services = services

    def run(self) -> None:
        services = self._services
        interval = services.options.poll_interval.total_seconds()
        while not services.stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                services.logger.exception("poller failed; trying again in %.1f s", interval)
            services.stopping.wait(interval)

    def poll_once(self) -> None:
        services = self._services
        now = utcnow()
        if services.lock.acquire_lock(POLL_RUNNABLES_LOCK):
            try:
                for workflow_id in services.persistence.get_runnable_instances(now):
                    services.queue.queue_work(QueueType.WORKFLOW, workflow_id)
            finally:
                services.lock.release_lock(POLL_RUNNABLES_LOCK)
        if services.lock.acquire_lock(POLL_EVENTS_LOCK):
            try:
                for event_id in services.persistence.get_runnable_events(now):
                    services.queue.queue_work(QueueType.EVENT, event_id)
            finally:
                services.lock.release_lock(POLL_EVENTS_LOCK)
