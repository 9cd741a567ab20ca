"""In-process persistence: fast, for demos and tests; everything is lost with the process."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .changes import WorkflowChanges
from .clock import to_utc, utcnow
from .due_times import DueTimes
from .errors import InvalidArgumentError
from .frozen import FrozenInstance, freeze, frozen_summary, thaw
from .providers import PersistenceProvider
from .queries import WorkflowQuery, WorkflowSummary, check_page
from .records import Event, EventSubscription, ExecutionError, ExecutionPointer, WorkflowInstance, new_id
from .serialization import DEFAULT_SERIALIZER
from .shared_state import SharedState

__all__ = ["MemoryPersistenceProvider"]


def _copy_event(event: Event) -> Event:
    twin = Event()
    twin.__dict__.update(event.__dict__)
    return twin


def _copy_subscription(subscription: EventSubscription) -> EventSubscription:
    twin = EventSubscription()
    twin.__dict__.update(subscription.__dict__)
    return twin


class MemoryPersistenceProvider(PersistenceProvider):
    """Keeps copies of instances (their `data` objects are shared, not copied) in dicts."""

    keeps_pointer_history = True
    is_durable = False
    runs_in_process = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._workflows: dict[str, FrozenInstance] = {}
        self._due = DueTimes()
        self._subscriptions: dict[str, EventSubscription] = {}
        self._subscriptions_by_key: dict[tuple[str, Any], set[str]] = {}
        self._events: dict[str, Event] = {}
        self._events_by_key: dict[tuple[str, Any], list[str]] = {}
        self._unprocessed: set[str] = set()
        self._errors: dict[str, list[ExecutionError]] = {}
        self._history: dict[str, list[ExecutionPointer]] = {}
        #: (kind, key) -> (version, value as the serializer's document)
        self._shared: dict[tuple[str, str], tuple[int, Any]] = {}

    def _keep(self, workflow: WorkflowInstance, copy: FrozenInstance) -> None:
        """Store `copy` (frozen from `workflow`).

        A stored instance is replaced, never changed, and storing one is a single dict
        assignment, so instances are written and read without the lock: workers of a busy
        host would otherwise meet on it at every step (each meeting costs both a thread
        switch). What must change together (subscriptions, events) still takes the lock,
        and whoever walks the instances walks a snapshot.
        """
        self._workflows[workflow.id] = copy
        runnable = workflow.status == WorkflowInstance.RUNNABLE
        self._due.set(workflow.id, workflow.next_execution if runnable else None)

    def create_workflow(self, workflow: WorkflowInstance) -> str:
        if not workflow.id:
            workflow.id = new_id()
        self._keep(workflow, freeze(workflow))
        return workflow.id

    def create_workflow_if_new(self, workflow: WorkflowInstance) -> bool:
        if not workflow.id:
            raise InvalidArgumentError("create_workflow_if_new() needs an instance with an id")
        copy = freeze(workflow)
        if self._workflows.setdefault(workflow.id, copy) is not copy:
            return False
        self._keep(workflow, copy)
        return True

    def persist_workflow(
        self, workflow: WorkflowInstance, subscriptions: Sequence[EventSubscription] = ()
    ) -> None:
        self.persist_changes(WorkflowChanges(workflow, subscriptions=list(subscriptions)))

    def persist_changes(self, changes: WorkflowChanges) -> None:
        """Everything is checked before anything changes; a pass that changed only the
        instance is one dict assignment, and what changes together changes under one lock."""
        workflow = changes.workflow
        copy = freeze(workflow)
        if not changes.has_side_effects:  # the usual pass: only the instance changed
            self._keep(workflow, copy)
            return
        with self._lock:
            taken = [event.id for event in changes.events if event.id and event.id in self._events]
            taken += [s.id for s in changes.subscriptions if s.id and s.id in self._subscriptions]
            if taken:
                raise InvalidArgumentError(f"cannot write workflow {workflow.id}: ids {taken} exist")
            self._keep(workflow, copy)
            for subscription in changes.subscriptions:
                self._add_subscription(subscription)
            for subscription_id in changes.ended_subscriptions:
                self.terminate_subscription(subscription_id)
            if changes.errors:
                self.persist_errors(changes.errors)
            for event in changes.events:
                self.create_event(event)
            for event_id, processed in changes.event_marks.items():
                self._mark_event(event_id, processed)
            if changes.archived_pointers:
                history = self._history.setdefault(workflow.id, [])
                history += [pointer.clone() for pointer in changes.archived_pointers]

    def quarantine_workflow(self, workflow_id: str, error: ExecutionError) -> bool:
        with self._lock:
            stored = self._workflows.get(workflow_id)
            if stored is not None:
                suspended = thaw(stored)
                suspended.status = WorkflowInstance.SUSPENDED
                suspended.next_execution = None
                self._keep(suspended, freeze(suspended))
            self.persist_errors([error])
            return stored is not None

    def get_workflow_instance(self, workflow_id: str) -> WorkflowInstance | None:
        stored = self._workflows.get(workflow_id)
        return None if stored is None else thaw(stored)

    def get_workflow_instances(
        self,
        status: int | None = None,
        definition_id: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        low = None if created_from is None else to_utc(created_from)
        high = None if created_to is None else to_utc(created_to)
        stored = list(self._workflows.values())
        found = [
            (summary, frozen)
            for summary, frozen in zip(map(frozen_summary, stored), stored, strict=True)
            if (status is None or summary.status == status)
            and (definition_id is None or summary.workflow_definition_id == definition_id)
            and (low is None or (summary.create_time is not None and summary.create_time >= low))
            and (high is None or (summary.create_time is not None and summary.create_time <= high))
        ]
        found.sort(key=lambda item: (item[0].create_time or utcnow(), item[0].id))
        return [thaw(frozen) for _, frozen in found[skip : skip + take]]

    def find_workflows(self, query: WorkflowQuery) -> list[WorkflowSummary]:
        stored = list(self._workflows.values())
        found = [summary for summary in map(frozen_summary, stored) if query.matches(summary)]
        found.sort(
            key=lambda summary: (summary.create_time or utcnow(), summary.id), reverse=query.newest_first
        )
        return found[query.skip : query.skip + query.take]

    def purge_workflows(self, status: int, older_than: datetime) -> int:
        limit = to_utc(older_than)
        with self._lock:
            doomed = [
                summary.id
                for summary in map(frozen_summary, list(self._workflows.values()))
                if summary.status == status
                and (summary.complete_time or summary.create_time or limit) < limit
            ]
            for workflow_id in doomed:
                self._workflows.pop(workflow_id, None)
                self._due.set(workflow_id, None)
                self._errors.pop(workflow_id, None)
                self._history.pop(workflow_id, None)
            gone = set(doomed)
            for subscription in [s for s in self._subscriptions.values() if s.workflow_id in gone]:
                self.terminate_subscription(subscription.id)
            return len(doomed)

    def get_runnable_instances(self, as_at: datetime | None = None) -> list[str]:
        limit = utcnow() if as_at is None else to_utc(as_at)
        return self._due.due(limit)

    def _add_subscription(self, subscription: EventSubscription) -> str:
        if not subscription.id:
            subscription.id = new_id()
        stored = _copy_subscription(subscription)
        self._subscriptions[stored.id] = stored
        key = (stored.event_name, stored.event_key)
        self._subscriptions_by_key.setdefault(key, set()).add(stored.id)
        return stored.id

    def create_subscription(self, subscription: EventSubscription) -> str:
        with self._lock:
            return self._add_subscription(subscription)

    def get_subscriptions(
        self, event_name: str, event_key: str | None, as_of: datetime
    ) -> list[EventSubscription]:
        limit = to_utc(as_of)
        with self._lock:
            ids = self._subscriptions_by_key.get((event_name, event_key), set())
            found = [
                self._subscriptions[subscription_id]
                for subscription_id in ids
                if (self._subscriptions[subscription_id].subscribe_as_of or limit) <= limit
            ]
            found.sort(key=lambda subscription: subscription.subscribe_as_of or limit)
            return [_copy_subscription(subscription) for subscription in found]

    def terminate_subscription(self, subscription_id: str) -> None:
        with self._lock:
            subscription = self._subscriptions.pop(subscription_id, None)
            if subscription is not None:
                key = (subscription.event_name, subscription.event_key)
                self._subscriptions_by_key.get(key, set()).discard(subscription_id)

    def create_event(self, event: Event) -> str:
        with self._lock:
            if not event.id:
                event.id = new_id()
            stored = _copy_event(event)
            self._events[stored.id] = stored
            self._events_by_key.setdefault((stored.event_name, stored.event_key), []).append(stored.id)
            if not stored.is_processed:
                self._unprocessed.add(stored.id)
            return stored.id

    def get_event(self, event_id: str) -> Event | None:
        with self._lock:
            stored = self._events.get(event_id)
            return None if stored is None else _copy_event(stored)

    def get_runnable_events(self, as_at: datetime | None = None) -> list[str]:
        limit = utcnow() if as_at is None else to_utc(as_at)
        with self._lock:
            return [
                event_id
                for event_id in self._unprocessed
                if (self._events[event_id].event_time or limit) <= limit
            ]

    def get_events(self, event_name: str, event_key: str | None, as_of: datetime) -> list[str]:
        limit = to_utc(as_of)
        with self._lock:
            found = [
                self._events[event_id]
                for event_id in self._events_by_key.get((event_name, event_key), [])
                if (self._events[event_id].event_time or limit) >= limit
            ]
            found.sort(key=lambda event: event.event_time or limit)
            return [event.id for event in found]

    def mark_event_processed(self, event_id: str) -> None:
        self._mark_event(event_id, True)

    def mark_event_unprocessed(self, event_id: str) -> None:
        self._mark_event(event_id, False)

    def _mark_event(self, event_id: str, processed: bool) -> None:
        with self._lock:
            event = self._events.get(event_id)
            if event is None:
                return
            event.is_processed = processed
            if processed:
                self._unprocessed.discard(event_id)
            else:
                self._unprocessed.add(event_id)

    def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        with self._lock:
            for error in errors:
                self._errors.setdefault(error.workflow_id, []).append(error)

    def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        with self._lock:
            return list(self._errors.get(workflow_id, []))

    def get_pointer_history(self, workflow_id: str, skip: int = 0, take: int = 100) -> list[ExecutionPointer]:
        check_page(skip, take)
        with self._lock:
            return [pointer.clone() for pointer in self._history.get(workflow_id, [])[skip : skip + take]]

    # Values are kept as the serializer's documents, as a durable store would hold them: a
    # reader gets its own copy, and a value that cannot be stored fails here too.

    def get_shared_state(self, kind: str, key: str) -> SharedState | None:
        with self._lock:
            stored = self._shared.get((kind, key))
        if stored is None:
            return None
        return SharedState(kind, key, DEFAULT_SERIALIZER.from_document(stored[1]), stored[0])

    def get_shared_states(self, kind: str, take: int | None = None) -> list[SharedState]:
        with self._lock:
            found = sorted((key, stored) for (of, key), stored in self._shared.items() if of == kind)
        return [
            SharedState(kind, key, DEFAULT_SERIALIZER.from_document(document), version)
            for key, (version, document) in found[:take]
        ]

    def put_shared_state(self, state: SharedState) -> bool:
        document = DEFAULT_SERIALIZER.to_document(state.value, f"shared state {state.kind}/{state.key}")
        with self._lock:
            stored = self._shared.get((state.kind, state.key))
            if (0 if stored is None else stored[0]) != state.version:
                return False
            self._shared[state.kind, state.key] = (state.version + 1, document)
        state.version += 1
        return True

    def delete_shared_state(self, kind: str, key: str, version: int | None = None) -> bool:
        with self._lock:
            stored = self._shared.get((kind, key))
            if stored is None or (version is not None and stored[0] != version):
                return False
            del self._shared[kind, key]
            return True
