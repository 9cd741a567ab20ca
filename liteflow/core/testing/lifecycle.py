"""The contract every lifecycle event hub must honour, as runnable checks."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from ..lifecycle import (
    LifecycleEvent,
    StepCompleted,
    StepStarted,
    WorkflowCompleted,
    WorkflowError,
    WorkflowResumed,
    WorkflowStarted,
    WorkflowSuspended,
    WorkflowTerminated,
)
from ..lifecycle_hub import LifecycleEventHub
from ._suite import ProviderSuite

__all__ = ["LifecycleEventHubConformance", "sample_events"]


def sample_events(workflow_id: str) -> list[LifecycleEvent]:
    """One event of every type about `workflow_id`, every field set (times to the microsecond)."""
    moment = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    plain = [WorkflowStarted, WorkflowResumed, WorkflowSuspended, WorkflowCompleted, WorkflowTerminated]
    events: list[LifecycleEvent] = [
        kind(workflow_id, "Order", 3, "order-42", moment + timedelta(seconds=n))
        for n, kind in enumerate(plain)
    ]
    events += [
        StepStarted(workflow_id, "Order", 3, "order-42", moment, "pointer-1", 2, "ChargeCard"),
        StepCompleted(workflow_id, "Order", 3, None, moment, "pointer-1", 2, None),
        WorkflowError(
            workflow_id,
            "Order",
            3,
            "order-42",
            moment,
            "pointer-1",
            2,
            "ChargeCard",
            "ValueError",
            "déclined",
        ),
    ]
    return events


class _Received:
    """What a handler was given, with a wait for it."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        self.events: list[LifecycleEvent] = []
        self.threads: set[int] = set()
        self._condition = threading.Condition()

    def __call__(self, event: LifecycleEvent) -> None:
        if event.workflow_instance_id != self.workflow_id:
            return  # another check's, on a shared server
        with self._condition:
            self.events.append(event)
            self.threads.add(threading.get_ident())
            self._condition.notify_all()

    def wait_for(self, count: int, timeout: float) -> list[LifecycleEvent]:
        with self._condition:
            self._condition.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


class LifecycleEventHubConformance(ProviderSuite[LifecycleEventHub]):
    """Checks for `LifecycleEventHub`; implement `create_provider` (a hub, as one node makes it).

    `create_peer(hub)` gives the hub another node would use to reach the same handlers: by
    default a second `create_provider()` (a cluster-wide hub); an in-process hub returns
    `hub` itself (hosts of one process share the object).
    """

    #: How long an event may take to reach a handler.
    delivery_seconds: float = 5.0
    #: How long to watch for an event that must not arrive.
    quiet_seconds: float = 0.3

    def dispose_provider(self, provider: LifecycleEventHub) -> None:
        """Close a hub made by `create_provider`; override when closing takes more."""
        provider.close()

    def create_peer(self, provider: LifecycleEventHub) -> LifecycleEventHub:
        """A second hub on the same server, standing for another node; a new one by default."""
        return self.create_provider()

    def _workflow_id(self) -> str:
        return f"hub-check-{uuid.uuid4().hex}"

    def test_every_event_type_reaches_a_handler_with_every_field(self) -> None:
        with self.provider() as hub:
            received = _Received(self._workflow_id())
            hub.subscribe(received)
            sent = sample_events(received.workflow_id)
            for event in sent:
                hub.publish(event)
            assert received.wait_for(len(sent), self.delivery_seconds) == sent

    def test_a_handler_on_another_node_sees_the_events(self) -> None:
        with self.provider() as hub:
            peer = self.create_peer(hub)
            peer.start()
            try:
                received = _Received(self._workflow_id())
                peer.subscribe(received)
                sent = sample_events(received.workflow_id)[:3]
                for event in sent:
                    hub.publish(event)
                assert received.wait_for(len(sent), self.delivery_seconds) == sent
            finally:
                if peer is not hub:
                    peer.close()

    def test_events_of_one_publisher_arrive_in_order(self) -> None:
        with self.provider() as hub:
            received = _Received(self._workflow_id())
            hub.subscribe(received)
            moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
            sent = [
                StepStarted(received.workflow_id, "Order", 1, None, moment, f"p{n}", n, f"step {n}")
                for n in range(50)
            ]
            for event in sent:
                hub.publish(event)
            assert received.wait_for(len(sent), self.delivery_seconds) == sent

    def test_every_handler_gets_the_event_even_when_one_raises(self) -> None:
        with self.provider() as hub:
            workflow_id = self._workflow_id()
            first, last = _Received(workflow_id), _Received(workflow_id)

            def failing(event: LifecycleEvent) -> None:
                raise RuntimeError("handler bug")

            for handler in (first, failing, last):
                hub.subscribe(handler)
            event = sample_events(workflow_id)[0]
            hub.publish(event)
            assert first.wait_for(1, self.delivery_seconds) == [event]
            assert last.wait_for(1, self.delivery_seconds) == [event]

    def test_an_unsubscribed_handler_gets_nothing_more(self) -> None:
        with self.provider() as hub:
            workflow_id = self._workflow_id()
            stays, leaves = _Received(workflow_id), _Received(workflow_id)
            hub.subscribe(stays)
            unsubscribe = hub.subscribe(leaves)
            first, second = sample_events(workflow_id)[:2]
            hub.publish(first)
            assert leaves.wait_for(1, self.delivery_seconds) == [first]
            unsubscribe()
            hub.publish(second)
            assert stays.wait_for(2, self.delivery_seconds) == [first, second]
            assert leaves.wait_for(2, self.quiet_seconds) == [first]

    def test_subscriptions_survive_close_and_start(self) -> None:
        with self.provider() as hub:
            received = _Received(self._workflow_id())
            hub.subscribe(received)
            hub.close()
            hub.start()
            event = sample_events(received.workflow_id)[0]
            hub.publish(event)
            assert received.wait_for(1, self.delivery_seconds) == [event]

    def test_a_slow_handler_does_not_hold_up_publishing(self) -> None:
        """For hubs that span nodes. An in-process hub calls its handlers on the publishing
        thread, which is the host's dispatcher and never a workflow worker: its suite sets
        this check to None."""
        with self.provider() as hub:
            received = _Received(self._workflow_id())
            release = threading.Event()

            def slow(event: LifecycleEvent) -> None:
                if event.workflow_instance_id == received.workflow_id:
                    release.wait(self.delivery_seconds)

            hub.subscribe(slow)
            hub.subscribe(received)
            sent = sample_events(received.workflow_id)[:3]
            publisher = _timed(lambda: [hub.publish(event) for event in sent])
            release.set()
            assert publisher < self.delivery_seconds / 2
            assert received.wait_for(len(sent), self.delivery_seconds) == sent


def _timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started
