"""Delivers stored events to the workflows waiting for them."""

from __future__ import annotations

from functools import partial

from .changes import WorkflowChanges
from .errors import ProviderError
from .loop_passes import LoopPasses
from .passes import HandedOver, PassesDone, PassRunner
from .providers import QueueType
from .quarantine import Quarantine
from .records import Event, EventSubscription, WorkflowInstance
from .worker_services import RetryLater, Services, consume

__all__ = ["EventConsumer", "event_lock_name"]


def event_lock_name(event_id: str) -> str:
    """The lock an event's delivery holds, so that two nodes never deliver one event at once."""
    return f"liteflow:event:{event_id}"


class EventConsumer:
    """Wakes the pointers an event is for, and runs their instances' next passes at once.

    Waking a pointer, ending its subscription, marking the event processed (with its last
    delivery) and the pass that follows are one atomic write of the instance.
    """

    def __init__(
        self, services: Services, runner: PassRunner, quarantine: Quarantine, loop_passes: LoopPasses
    ) -> None:
        self._services = services
        self._runner = runner
        self._quarantine = quarantine
        self._loop_passes = loop_passes
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
            try:
                event = services.persistence.get_event(event_id)
            except ProviderError:
                raise  # the store failed for a moment: the worker loop tries again
            except Exception as exc:
                if not self._quarantine.event_failed(event_id, exc):
                    self._retries.schedule(event_id)
                return
            if event is None:
                return
            now = services.clock.now()
            if event.event_time is not None and event.event_time > now:
                services.scheduler.schedule(event.event_time, QueueType.EVENT, event_id)
                return
            subscriptions = services.persistence.get_subscriptions(
                event.event_name, event.event_key, event.event_time or now
            )
            for index, subscription in enumerate(subscriptions):
                last = delivered and index == len(subscriptions) - 1
                delivered = self._deliver(event, subscription, mark_processed=last) and delivered
            if not subscriptions:
                services.persistence.mark_event_processed(event_id)
            if delivered:
                self._retries.succeeded(event_id)
        finally:
            services.lock.release_lock(lock_name)
        if not delivered:
            # A busy workflow will be free in moments.
            self._retries.schedule(event_id)

    def _deliver(self, event: Event, subscription: EventSubscription, mark_processed: bool) -> bool:
        """Wake the subscribed pointer with the earliest event at or after its as-of time.

        Events may be processed out of order (retries, several nodes); choosing the earliest
        one here makes what a subscription receives independent of that order.
        """
        services = self._services
        workflow_id = subscription.workflow_id
        if not services.lock.acquire_lock(workflow_id):
            return False
        done: PassesDone | HandedOver | None = None
        try:
            try:
                workflow = services.persistence.get_workflow_instance(workflow_id)
            except ProviderError:
                raise
            except Exception as exc:
                # An instance that cannot be loaded cannot take the event; once it is put
                # aside, the event goes on to its other subscribers.
                return self._quarantine.workflow_failed(workflow_id, exc)
            changes = None if workflow is None else self._wake(workflow, subscription, event)
            if changes is None:
                self._end_stale(subscription, event, mark_processed)
                return True
            changes.ended_subscriptions.append(subscription.id)
            if mark_processed:
                changes.event_marks[event.id] = True
            if not services.lock.holds_lock(workflow_id):
                services.logger.error(
                    "lost the lock on workflow %s while delivering event %s; retrying", workflow_id, event.id
                )
                return False
            if changes.workflow.status == WorkflowInstance.RUNNABLE:
                changes.workflow.next_execution = services.clock.now()
                done = self._runner.run(changes.workflow, changes)
                if done is None:
                    return False
            else:  # suspended: it takes the event now and runs on when resumed
                services.persistence.persist_changes(changes)
        finally:
            if not isinstance(done, HandedOver):
                services.lock.release_lock(workflow_id)
        if isinstance(done, HandedOver):  # the event is marked with the awaited pass's write
            self._loop_passes.hand_over(done, partial(self._delivered_awaited, workflow_id, event.id))
        elif done is not None:
            done.finish(services)
        return True

    def _delivered_awaited(
        self, workflow_id: str, event_id: str, done: PassesDone | None, error: BaseException | None
    ) -> None:
        """After the awaited pass that took the event: release the instance, queue what
        follows; if the pass wrote nothing, deliver the event again later."""
        self._services.lock.release_lock(workflow_id)
        if done is None:
            self._retries.schedule(event_id)
        else:
            done.finish(self._services)

    def _wake(
        self, workflow: WorkflowInstance, subscription: EventSubscription, event: Event
    ) -> WorkflowChanges | None:
        """Give the event to the waiting pointer; None when none waits for it any more."""
        woken = False
        delivered: Event | None = None
        for pointer in workflow.execution_pointers:
            matches = (
                pointer.id == subscription.execution_pointer_id
                if subscription.execution_pointer_id
                else pointer.event_name == subscription.event_name
                and pointer.event_key == subscription.event_key
            )
            if matches and not pointer.event_published and pointer.end_time is None:
                delivered = delivered or self._earliest_event(subscription, event)
                pointer.event_data = delivered.event_data
                # Of several events waited for, the one that came:
                pointer.event_name, pointer.event_key = subscription.event_name, subscription.event_key
                pointer.event_published = True
                pointer.active = True
                pointer.sleep_until = None  # a wait's timeout no longer matters
                woken = True
        return WorkflowChanges(workflow) if woken else None

    def _end_stale(self, subscription: EventSubscription, event: Event, mark_processed: bool) -> None:
        """Nobody waits for this subscription any more (the wait timed out or was cancelled,
        or its instance is gone): end it."""
        persistence = self._services.persistence
        persistence.terminate_subscription(subscription.id)
        if mark_processed:
            persistence.mark_event_processed(event.id)

    def _earliest_event(self, subscription: EventSubscription, event: Event) -> Event:
        as_of = subscription.subscribe_as_of or event.event_time or self._services.clock.now()
        candidates = self._services.persistence.get_events(
            subscription.event_name, subscription.event_key, as_of
        )
        if not candidates or candidates[0] == event.id:
            return event
        return self._services.persistence.get_event(candidates[0]) or event
