"""Conformance checks of event subscriptions and events. Part of
`PersistenceProviderConformance`."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..clock import utcnow
from ..providers import PersistenceProvider
from ..records import Event, EventSubscription
from ._suite import ProviderSuite

__all__ = ["EventStoreChecks", "sample_event", "sample_subscription"]


def sample_subscription(
    workflow_id: str, name: str = "approved", key: str | None = "k1", as_of: datetime | None = None
) -> EventSubscription:
    """A subscription to `name`/`key` of workflow `workflow_id`, from `as_of` (default now)."""
    subscription = EventSubscription()
    subscription.workflow_id = workflow_id
    subscription.step_id = 1
    subscription.execution_pointer_id = "pointer-1"
    subscription.event_name = name
    subscription.event_key = key
    subscription.subscribe_as_of = as_of or utcnow()
    return subscription


def sample_event(name: str = "approved", key: str | None = "k1", when: datetime | None = None) -> Event:
    """An event `name`/`key` at `when` (default now), with a small data object."""
    event = Event()
    event.event_name = name
    event.event_key = key
    event.event_data = {"approved_by": "ann", "amount": 12}
    event.event_time = when or utcnow()
    return event


class EventStoreChecks(ProviderSuite[PersistenceProvider]):
    """Subscriptions are found by name, key and as-of time; events by time, processed or not."""

    def test_subscriptions_are_selected_by_name_key_and_as_of(self) -> None:
        with self.provider() as store:
            now = utcnow()
            early = store.create_subscription(sample_subscription("w1", as_of=now - timedelta(minutes=5)))
            store.create_subscription(sample_subscription("w2", as_of=now + timedelta(minutes=5)))
            store.create_subscription(
                sample_subscription("w3", key="other", as_of=now - timedelta(minutes=5))
            )
            store.create_subscription(
                sample_subscription("w4", name="rejected", as_of=now - timedelta(minutes=5))
            )
            assert [s.id for s in store.get_subscriptions("approved", "k1", now)] == [early]
            assert len(store.get_subscriptions("approved", "k1", now + timedelta(minutes=10))) == 2
            assert store.get_subscriptions("approved", "missing", now) == []

    def test_terminated_subscription_is_never_returned(self) -> None:
        with self.provider() as store:
            subscription_id = store.create_subscription(
                sample_subscription("w1", as_of=utcnow() - timedelta(seconds=1))
            )
            store.terminate_subscription(subscription_id)
            assert store.get_subscriptions("approved", "k1", utcnow()) == []
            store.terminate_subscription(subscription_id)

    def test_subscription_with_no_key_matches_events_with_no_key(self) -> None:
        with self.provider() as store:
            subscription_id = store.create_subscription(
                sample_subscription("w1", key=None, as_of=utcnow() - timedelta(seconds=1))
            )
            assert [s.id for s in store.get_subscriptions("approved", None, utcnow())] == [subscription_id]
            assert store.get_subscriptions("approved", "k1", utcnow()) == []

    def test_event_round_trips(self) -> None:
        with self.provider() as store:
            original = sample_event()
            event_id = store.create_event(original)
            assert event_id and original.id == event_id
            loaded = store.get_event(event_id)
            assert loaded is not None
            assert (loaded.event_name, loaded.event_key, loaded.event_data) == (
                "approved",
                "k1",
                {"approved_by": "ann", "amount": 12},
            )
            assert loaded.event_time == original.event_time
            assert loaded.is_processed is False
            assert store.get_event("no-such-event") is None

    def test_runnable_events_are_unprocessed_and_due(self) -> None:
        with self.provider() as store:
            now = utcnow()
            due = store.create_event(sample_event(when=now - timedelta(seconds=1)))
            store.create_event(sample_event(when=now + timedelta(hours=1)))
            assert store.get_runnable_events(now) == [due]
            store.mark_event_processed(due)
            assert store.get_runnable_events(now) == []
            loaded = store.get_event(due)
            assert loaded is not None and loaded.is_processed is True
            store.mark_event_unprocessed(due)
            assert store.get_runnable_events(now) == [due]

    def test_events_since_as_of_come_earliest_first(self) -> None:
        with self.provider() as store:
            base = utcnow() - timedelta(hours=1)
            third = store.create_event(sample_event(when=base + timedelta(minutes=3)))
            first = store.create_event(sample_event(when=base + timedelta(minutes=1)))
            second = store.create_event(sample_event(when=base + timedelta(minutes=2)))
            store.create_event(sample_event(key="other", when=base + timedelta(minutes=2)))
            assert store.get_events("approved", "k1", base) == [first, second, third]
            assert store.get_events("approved", "k1", base + timedelta(minutes=2)) == [second, third]
            store.mark_event_processed(second)
            assert store.get_events("approved", "k1", base + timedelta(minutes=2)) == [second, third]
