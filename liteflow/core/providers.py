"""The contracts every persistence, queue and lock provider implements.

The engine talks only to these classes; provider packages are thin adapters over them.
The original ``I``-prefixed names stay importable as aliases.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from .changes import WorkflowChanges
from .claims import process_claims
from .errors import ProviderError
from .queries import WorkflowQuery, WorkflowSummary, summary_of
from .records import Event, EventSubscription, ExecutionError, ExecutionPointer, WorkflowInstance
from .shared_state import SharedState

#: Instances read at a time by the default `find_workflows`.
_SCAN_BATCH = 500

__all__ = [
    "PersistenceProvider",
    "QueueProvider",
    "LockProvider",
    "QueueType",
    "SharedState",
    "WORKFLOW_QUEUE",
    "EVENT_QUEUE",
    "IPersistenceProvider",
    "IQueueProvider",
    "ILockProvider",
]


class PersistenceProvider(ABC):
    """Stores workflow instances, subscriptions, events and errors.

    Every time passed in or returned is timezone-aware UTC. Methods that look up one
    record return ``None`` when it does not exist.
    """

    #: Whether `persist_changes` keeps ``changes.archived_pointers`` in a history of the
    #: instance (`get_pointer_history`). Only then does the engine move finished pointers out
    #: of long-running instances; a provider without it keeps every pointer in the instance.
    keeps_pointer_history: bool = False
    #: Whether what it stores outlives the process. Only a store that does not (the in-memory
    #: one) lets the engine run a workflow's consecutive steps and write them once: with
    #: nothing to survive a crash, a write per step would buy no durability.
    is_durable: bool = True
    #: Whether its calls run inside this process (memory, SQLite) rather than wait on a
    #: server. Then the host's extra workflow workers take work only while the ones before
    #: them wait in their steps (`liteflow.core.worker_gate`): threads sharing the
    #: interpreter lock and one database file run steps that return at once fastest alone.
    #: A store that waits on a server keeps every worker busy, so the waits overlap.
    runs_in_process: bool = False

    def start(self) -> None:
        """Prepare storage (tables, indexes); called by the host before it runs anything."""

    def close(self) -> None:
        """Release connections (``host.stop()`` calls it); a later call opens them again."""

    @abstractmethod
    def create_workflow(self, workflow: WorkflowInstance) -> str:
        """Store a new instance, assigning ``workflow.id`` when empty; return the id."""

    def create_workflow_if_new(self, workflow: WorkflowInstance) -> bool:
        """Store a new instance under its (caller-chosen) ``workflow.id`` unless one with that
        id exists; True if stored. Atomic: of several callers, on any node, one wins.

        This default cannot be made atomic from the other methods, so it refuses; the
        built-in stores override it with a unique key (never a read, then a write).
        """
        raise ProviderError(f"{type(self).__name__} cannot create instances with chosen ids")

    def get_shared_state(self, kind: str, key: str) -> SharedState | None:
        """The record (`kind`, `key`), or None. A store without such records holds none."""
        return None

    def get_shared_states(self, kind: str, take: int | None = None) -> list[SharedState]:
        """Records of `kind`, by key (the first `take` of them)."""
        return []

    def put_shared_state(self, state: SharedState) -> bool:
        """Write `state` if the stored record's version is ``state.version`` (0: none is
        stored), then increment ``state.version``; False, writing nothing, otherwise.

        This default refuses: schedules and flow limits need a store that overrides these.
        """
        raise ProviderError(
            f"{type(self).__name__} does not store shared state (schedules and flow limits need it)"
        )

    def delete_shared_state(self, kind: str, key: str, version: int | None = None) -> bool:
        """Delete the record (only at `version`, when given); True if one was deleted."""
        return False

    @abstractmethod
    def persist_workflow(
        self, workflow: WorkflowInstance, subscriptions: Sequence[EventSubscription] = ()
    ) -> None:
        """Replace the stored instance and create `subscriptions`, all or nothing."""

    def persist_changes(self, changes: WorkflowChanges) -> None:
        """Write the instance and everything its pass produced in ONE atomic operation: when it
        raises, the store is as it was before. Ids missing on new subscriptions and events
        are assigned.

        This default writes them one after another and is not atomic (a crash in between
        leaves part of a pass): a provider overrides it with a transaction or a single
        document update. The conformance suite checks that.
        """
        workflow = changes.workflow
        if changes.errors:
            self.persist_errors(changes.errors)
        for event in changes.events:
            self.create_event(event)
        self.persist_workflow(workflow, changes.subscriptions)
        for subscription_id in changes.ended_subscriptions:
            self.terminate_subscription(subscription_id)
        for event_id, processed in changes.event_marks.items():
            if processed:
                self.mark_event_processed(event_id)
            else:
                self.mark_event_unprocessed(event_id)

    def get_pointer_history(self, workflow_id: str, skip: int = 0, take: int = 100) -> list[ExecutionPointer]:
        """Pointers that left the instance for its history, oldest first (empty without one)."""
        return []

    def quarantine_workflow(self, workflow_id: str, error: ExecutionError) -> bool:
        """Suspend a stored instance WITHOUT loading it (it cannot be loaded or run) and
        record `error`, atomically; False if this provider cannot (then only the error is
        recorded, and the engine skips the instance until it restarts). Override it."""
        self.persist_errors([error])
        return False

    def mark_event_failed(self, event_id: str, error: ExecutionError) -> None:
        """An event that cannot be loaded or delivered: record `error` (under the event's id,
        so ``get_errors(event_id)`` shows it) and mark the event processed, never offered again."""
        self.persist_errors([error])
        self.mark_event_processed(event_id)

    @abstractmethod
    def get_workflow_instance(self, workflow_id: str) -> WorkflowInstance | None:
        """Load one instance."""

    @abstractmethod
    def get_workflow_instances(
        self,
        status: int | None = None,
        definition_id: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        """Instances matching every given filter, oldest first."""

    def find_workflows(self, query: WorkflowQuery) -> list[WorkflowSummary]:
        """Summaries of the instances matching `query`, newest first unless it says otherwise.

        This default loads every matching instance through `get_workflow_instances`: a
        store overrides it with one query on indexed fields (the built-in stores do).
        """
        found: list[WorkflowSummary] = []
        offset = 0
        while True:
            batch = self.get_workflow_instances(
                query.status, query.definition_id, query.created_from, query.created_to, offset, _SCAN_BATCH
            )
            found += [summary for summary in map(summary_of, batch) if query.matches(summary)]
            if len(batch) < _SCAN_BATCH:
                break
            offset += _SCAN_BATCH
        if query.newest_first:
            found.reverse()
        return found[query.skip : query.skip + query.take]

    @abstractmethod
    def purge_workflows(self, status: int, older_than: datetime) -> int:
        """Delete instances in `status` that finished (or, if unfinished, were created)
        before `older_than`, with their subscriptions and errors; return how many."""

    @abstractmethod
    def get_runnable_instances(self, as_at: datetime | None = None) -> list[str]:
        """Ids of RUNNABLE instances whose ``next_execution`` is at or before `as_at` (now)."""

    def claim_runnable_instances(self, as_at: datetime, until: datetime) -> list[str]:
        """Ids of RUNNABLE instances due at `as_at` that no poll claimed past `as_at`, earliest
        due first, each now claimed until `until`.

        The poller queues what it claims; other polls skip a claimed instance until its claim
        ends, so an instance is queued once while a worker handles it, and one claimed by a
        node that died is polled again when the claim ends. A claim holds back only polls:
        `get_runnable_instances` still lists the instance and any worker may run it. This
        default claims in this process only; the built-in stores claim atomically in the store.
        """
        return process_claims(self).claim("workflow", self.get_runnable_instances(as_at), as_at, until)

    @abstractmethod
    def create_subscription(self, subscription: EventSubscription) -> str:
        """Store a subscription, assigning its id; return the id."""

    @abstractmethod
    def get_subscriptions(
        self, event_name: str, event_key: str | None, as_of: datetime
    ) -> list[EventSubscription]:
        """Active subscriptions to (name, key) whose ``subscribe_as_of`` is at or before `as_of`."""

    @abstractmethod
    def terminate_subscription(self, subscription_id: str) -> None:
        """Deactivate a subscription; it is never returned again."""

    @abstractmethod
    def create_event(self, event: Event) -> str:
        """Store an event, assigning its id; return the id."""

    @abstractmethod
    def get_event(self, event_id: str) -> Event | None:
        """Load one event."""

    @abstractmethod
    def get_runnable_events(self, as_at: datetime | None = None) -> list[str]:
        """Ids of unprocessed events whose ``event_time`` is at or before `as_at` (now)."""

    def claim_runnable_events(self, as_at: datetime, until: datetime) -> list[str]:
        """Ids of unprocessed events due at `as_at` that no poll claimed past `as_at`, each now
        claimed until `until` (see `claim_runnable_instances`)."""
        return process_claims(self).claim("event", self.get_runnable_events(as_at), as_at, until)

    @abstractmethod
    def get_events(self, event_name: str, event_key: str | None, as_of: datetime) -> list[str]:
        """Ids of events of (name, key) whose ``event_time`` is at or after `as_of`, earliest first."""

    @abstractmethod
    def mark_event_processed(self, event_id: str) -> None:
        """Note that the event was delivered to every waiting workflow: pollers no longer queue it."""

    @abstractmethod
    def mark_event_unprocessed(self, event_id: str) -> None:
        """Make the event due for delivery again, for a new wait entitled to an event already processed."""

    @abstractmethod
    def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        """Record step and delivery errors, which `get_errors` returns per workflow or event id."""

    @abstractmethod
    def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        """Errors recorded for one instance (or for an event that failed, by its id), oldest first."""


class QueueType(enum.IntEnum):
    """The two work queues: workflow ids to execute, event ids to deliver."""

    WORKFLOW = 1
    EVENT = 2


WORKFLOW_QUEUE = QueueType.WORKFLOW
EVENT_QUEUE = QueueType.EVENT


class QueueProvider(ABC):
    """Hands workflow and event ids to the host's workers.

    Delivery is at least once: an item dequeued but not completed may be delivered again
    (after a visibility timeout, or when its consumer's connection dies).
    """

    #: True when ``dequeue_work`` waits (for a bounded time) for an item to arrive.
    is_dequeue_blocking: bool = False

    def start(self) -> None:
        """Connect and declare queues; called by the host before it dequeues."""

    def wake_dequeues(self) -> None:
        """Make blocked and later ``dequeue_work`` calls return None promptly, until `start`;
        unlike `shutdown`, items already dequeued can still be completed.

        The host calls it when it stops, so its workers finish the items in hand and exit
        without waiting for a dequeue to time out. By default a blocked dequeue just runs to
        the end of its own bounded wait.
        """

    def shutdown(self) -> None:
        """Make blocked ``dequeue_work`` calls return promptly and release connections; the
        provider may be started again."""

    @abstractmethod
    def queue_work(self, queue: QueueType, data: str) -> None:
        """Append an id to a queue."""

    @abstractmethod
    def dequeue_work(self, queue: QueueType) -> str | None:
        """Take the next id, or return ``None`` (at once, or within a bounded wait) if empty."""

    def complete_work(self, queue: QueueType, data: str) -> None:
        """Acknowledge that a dequeued id was handled; providers with redelivery drop it now."""


class LockProvider(ABC):
    """Mutual exclusion on a resource name (a workflow or event id) across threads or nodes."""

    def start(self) -> None:
        """Connect; called by the host before it takes any lock."""

    @abstractmethod
    def acquire_lock(self, resource: str) -> bool:
        """Take the lock without waiting; return False if someone else holds it."""

    @abstractmethod
    def release_lock(self, resource: str) -> None:
        """Give the lock back; releasing a lock not held is a no-op."""

    def holds_lock(self, resource: str) -> bool:
        """Whether this provider still holds `resource` (False once a lease was lost)."""
        return True

    def shutdown(self) -> None:
        """Release every lock this provider holds and stop any renewal."""


IPersistenceProvider = PersistenceProvider
IQueueProvider = QueueProvider
ILockProvider = LockProvider
