"""Changing an instance from outside its workers: suspend, resume, terminate, retry, skip, fork.

Each action takes the instance's lock (asking this host's workers to let go of it, see
`ControlRequests`), loads it, changes it, and writes it with a note of the action in its
history in one write; its lifecycle events are emitted before the lock is released, and
work is queued after.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .changes import WorkflowChanges
from .clock import Clock
from .definition import WorkflowDefinition
from .errors import HostStateError, InvalidArgumentError, WorkflowNotFoundError
from .lifecycle import (
    LifecycleEvent,
    StepSkipped,
    WorkflowForked,
    WorkflowResumed,
    WorkflowRetried,
    instance_fields,
    workflow_event,
)
from .lifecycle_dispatch import LifecycleDispatcher
from .passes import status_event
from .primitives import child_completion_event
from .providers import LockProvider, PersistenceProvider, QueueProvider, QueueType
from .records import WorkflowAction, WorkflowInstance
from .registry import WorkflowRegistry
from .repair import StepCatalog, failed_pointers, fork, retry, skip
from .result_processor import ResultProcessor
from .text import is_storable_text
from .worker_services import ControlRequests

__all__ = ["CONTROL_LOCK_TIMEOUT", "InstanceControl", "checked_actor"]

#: How long an action waits for a running pass to release the instance.
CONTROL_LOCK_TIMEOUT = 10.0
#: The longest `actor` text kept in a history.
_MAX_ACTOR = 200

_STATUS_ACTIONS = {
    WorkflowInstance.SUSPENDED: WorkflowAction.SUSPEND,
    WorkflowInstance.RUNNABLE: WorkflowAction.RESUME,
    WorkflowInstance.TERMINATED: WorkflowAction.TERMINATE,
}


def checked_actor(actor: object, where: str) -> str | None:
    """The actor recorded with a repair action, checked where the operator gave it."""
    if actor is None:
        return None
    if not isinstance(actor, str) or not actor or len(actor) > _MAX_ACTOR or not is_storable_text(actor):
        raise InvalidArgumentError(f"{where}: actor must be text of 1 to {_MAX_ACTOR} characters, or None")
    return actor


@dataclass
class _Written:
    """What to queue once the lock is released."""

    workflow_id: str
    runnable: bool
    events: list[str] = field(default_factory=list)


class InstanceControl:
    """The host's actions on one instance at a time."""

    def __init__(
        self,
        persistence: PersistenceProvider,
        queue: QueueProvider,
        lock: LockProvider,
        registry: WorkflowRegistry,
        processor: ResultProcessor,
        lifecycle: LifecycleDispatcher,
        requests: ControlRequests,
        clock: Clock,
    ) -> None:
        self._persistence = persistence
        self._queue = queue
        self._lock = lock
        self._registry = registry
        self._processor = processor
        self._lifecycle = lifecycle
        self._requests = requests
        self._clock = clock

    @contextmanager
    def _locked(self, workflow_id: str) -> Iterator[WorkflowInstance]:
        """The instance, loaded under its lock (this host's workers let go of it first)."""
        deadline = time.monotonic() + CONTROL_LOCK_TIMEOUT
        with self._requests.requested(workflow_id):
            while not self._lock.acquire_lock(workflow_id):
                if time.monotonic() > deadline:
                    raise HostStateError(
                        f"workflow {workflow_id!r} stayed locked by a running step for "
                        f"{CONTROL_LOCK_TIMEOUT:.0f} s; try again later"
                    )
                time.sleep(0.005)
        try:
            instance = self._persistence.get_workflow_instance(workflow_id)
            if instance is None:
                raise WorkflowNotFoundError(f"no workflow instance with id {workflow_id!r}")
            yield instance
        finally:
            self._lock.release_lock(workflow_id)

    def _definition(self, instance: WorkflowInstance) -> WorkflowDefinition | None:
        if self._registry.is_registered(instance.workflow_definition_id, instance.version):
            return self._registry.get_definition(instance.workflow_definition_id, instance.version)
        return None

    def _write(
        self, instance: WorkflowInstance, action: WorkflowAction, events: list[LifecycleEvent]
    ) -> _Written:
        """Store the changed instance with its note (and, for a finished child, its parent's
        news) in one write; tell the lifecycle handlers before the lock lets a worker go on."""
        instance.actions.append(action)
        changes = WorkflowChanges(instance)
        finished = child_completion_event(instance, action.time)
        if finished is not None:
            changes.events.append(finished)
        self._persistence.persist_changes(changes)
        if events and self._lifecycle.wanted:
            self._lifecycle.emit(events)
        runnable = instance.status == WorkflowInstance.RUNNABLE
        return _Written(instance.id, runnable, [event.id for event in changes.events])

    def _queue_after(self, written: _Written) -> None:
        for event_id in written.events:
            self._queue.queue_work(QueueType.EVENT, event_id)
        if written.runnable:
            self._queue.queue_work(QueueType.WORKFLOW, written.workflow_id)

    def change_status(self, workflow_id: str, allowed: set[int], status: int, actor: str | None) -> bool:
        """Suspend, resume or terminate; False when the instance is in none of `allowed`."""
        with self._locked(workflow_id) as instance:
            if instance.status not in allowed:
                return False
            now = self._clock.now()
            instance.status = status
            if status == WorkflowInstance.TERMINATED:
                instance.complete_time = now
                instance.next_execution = None
            else:
                instance.next_execution = now if status == WorkflowInstance.RUNNABLE else None
            told = (
                workflow_event(WorkflowResumed, instance, now)
                if status == WorkflowInstance.RUNNABLE
                else status_event(instance, now)
            )
            written = self._write(instance, WorkflowAction(_STATUS_ACTIONS[status], now, actor), [told])
        self._queue_after(written)
        return True

    def retry(self, workflow_id: str, from_step: int | str | None, actor: str | None) -> None:
        with self._locked(workflow_id) as instance:
            catalog = StepCatalog(instance, self._definition(instance))
            step_id = None if from_step is None else catalog.resolve(from_step)
            now = self._clock.now()
            detail = retry(instance, catalog, step_id, now)
            told = WorkflowRetried(*instance_fields(instance, now), step_id, actor)
            action = WorkflowAction(WorkflowAction.RETRY, now, actor, step_id, detail=detail)
            written = self._write(instance, action, [told])
        self._queue_after(written)

    def skip(self, workflow_id: str, step: int | str, actor: str | None) -> None:
        with self._locked(workflow_id) as instance:
            definition = self._registry.get_definition(instance.workflow_definition_id, instance.version)
            step_id = StepCatalog(instance, definition).resolve(step)
            was = instance.status
            now = self._clock.now()
            skipped = [pointer.id for pointer in failed_pointers(instance, step_id)]
            detail = skip(instance, definition, self._processor, step_id, now)
            name = definition.steps[step_id].display_name
            told: list[LifecycleEvent] = [
                StepSkipped(*instance_fields(instance, now), pointer_id, step_id, name, actor)
                for pointer_id in skipped
            ]
            if was != WorkflowInstance.RUNNABLE:
                told.append(workflow_event(WorkflowResumed, instance, now))
            action = WorkflowAction(WorkflowAction.SKIP, now, actor, step_id, detail=detail)
            written = self._write(instance, action, told)
        self._queue_after(written)

    def fork(self, workflow_id: str, from_step: int | str, actor: str | None) -> str:
        """The new instance is stored first: if noting the fork on its source then fails, the
        fork's own history still says where it came from."""
        with self._locked(workflow_id) as instance:
            catalog = StepCatalog(instance, self._definition(instance))
            step_id = catalog.resolve(from_step)
            now = self._clock.now()
            forked = fork(instance, catalog, step_id, now, actor)
            self._persistence.create_workflow(forked)
            told = WorkflowForked(*instance_fields(forked, now), instance.id, step_id, actor)
            action = WorkflowAction(
                WorkflowAction.FORK,
                now,
                actor,
                step_id,
                forked.id,
                f"forked as {forked.id} at {catalog.describe(step_id)}",
            )
            written = self._write(instance, action, [told])
        self._queue_after(written)
        self._queue.queue_work(QueueType.WORKFLOW, forked.id)
        return forked.id
