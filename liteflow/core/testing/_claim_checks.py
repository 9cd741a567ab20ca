"""Conformance checks of the claims a poll takes on the due work it queues. Part of
`PersistenceProviderConformance`."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..clock import utcnow
from ..providers import PersistenceProvider
from ..records import Event, WorkflowInstance
from ._suite import ProviderSuite, race

__all__ = ["ClaimConformance"]

CLAIM = timedelta(seconds=20)


def _waking(next_execution: datetime | None, status: int = WorkflowInstance.RUNNABLE) -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "ConformanceWorkflow"
    instance.status = status
    instance.create_time = utcnow()
    instance.next_execution = next_execution
    instance.data = {}
    return instance


def _happening(when: datetime, processed: bool = False) -> Event:
    event = Event()
    event.event_name, event.event_key, event.event_data = "approved", "k1", {}
    event.event_time = when
    event.is_processed = processed
    return event


class ClaimConformance(ProviderSuite[PersistenceProvider]):
    """`claim_runnable_instances` and `claim_runnable_events`."""

    def test_a_claim_takes_due_runnable_instances_earliest_first(self) -> None:
        with self.provider() as store:
            now = utcnow()
            second = store.create_workflow(_waking(now - timedelta(seconds=1)))
            first = store.create_workflow(_waking(now - timedelta(seconds=2)))
            store.create_workflow(_waking(now + timedelta(hours=1)))
            store.create_workflow(_waking(None))
            store.create_workflow(_waking(now - timedelta(seconds=3), WorkflowInstance.SUSPENDED))
            assert store.claim_runnable_instances(now, now + CLAIM) == [first, second]

    def test_claimed_instances_are_not_claimed_again_until_the_claim_ends(self) -> None:
        with self.provider() as store:
            now = utcnow()
            due = store.create_workflow(_waking(now - timedelta(seconds=1)))
            assert store.claim_runnable_instances(now, now + CLAIM) == [due]
            assert store.claim_runnable_instances(now, now + CLAIM) == []
            just_before = now + CLAIM - timedelta(seconds=1)
            assert store.claim_runnable_instances(just_before, just_before + CLAIM) == []
            assert store.get_runnable_instances(just_before) == [due]  # still listed, only not claimable
            end = now + CLAIM
            assert store.claim_runnable_instances(end, end + CLAIM) == [due]
            assert store.claim_runnable_instances(end, end + CLAIM) == []

    def test_an_instance_due_later_is_claimed_once_it_is_due(self) -> None:
        with self.provider() as store:
            now = utcnow()
            later = store.create_workflow(_waking(now + timedelta(minutes=1)))
            assert store.claim_runnable_instances(now, now + CLAIM) == []
            when = now + timedelta(minutes=1)
            assert store.claim_runnable_instances(when, when + CLAIM) == [later]

    def test_of_polls_claiming_at_once_each_due_instance_goes_to_exactly_one(self) -> None:
        with self.provider() as store:
            now = utcnow()
            due = {store.create_workflow(_waking(now - timedelta(seconds=n))) for n in range(1, 21)}
            taken: dict[int, list[str]] = {}

            def claim(number: int) -> bool:
                taken[number] = store.claim_runnable_instances(now, now + CLAIM)
                return True

            race(6, claim)
            everything = [workflow_id for ids in taken.values() for workflow_id in ids]
            assert sorted(everything) == sorted(due), taken

    def test_a_claim_takes_due_unprocessed_events_once_until_it_ends(self) -> None:
        with self.provider() as store:
            now = utcnow()
            due = store.create_event(_happening(now - timedelta(seconds=1)))
            store.create_event(_happening(now + timedelta(hours=1)))
            store.create_event(_happening(now - timedelta(seconds=1), processed=True))
            assert store.claim_runnable_events(now, now + CLAIM) == [due]
            assert store.claim_runnable_events(now, now + CLAIM) == []
            end = now + CLAIM
            assert store.claim_runnable_events(end, end + CLAIM) == [due]
            store.mark_event_processed(due)
            after = end + CLAIM
            assert store.claim_runnable_events(after, after + CLAIM) == []
