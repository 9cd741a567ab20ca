"""Runs passes over an instance its caller has locked and loaded, and writes each in one go.

Both consumers use it: the workflow consumer for an instance that is due, the event
consumer for the instance an event just woke (so a delivered event costs one read and one
write of the instance, not two of each). Every pass ends in one atomic write of everything
it produced (`WorkflowChanges`); work is queued only after that write succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .changes import WorkflowChanges
from .clock import utcnow
from .errors import SerializationError, WorkflowNotRegisteredError
from .executor import WorkflowExecutor
from .primitives import child_completion_event
from .providers import QueueType
from .records import EventSubscription, ExecutionError, WorkflowInstance
from .worker_services import Services

__all__ = ["PassRunner", "PassesDone", "record_error"]

#: Passes one worker runs back to back on one instance before letting others have a turn.
MAX_INLINE_PASSES = 100


def record_error(workflow_id: str, message: str) -> ExecutionError:
    error = ExecutionError()
    error.error_time = utcnow()
    error.workflow_id = workflow_id
    error.message = message
    return error


@dataclass
class PassesDone:
    """What is left to do once the instance's lock is released."""

    workflow_id: str
    next_execution: datetime | None = None
    events_to_queue: list[str] = field(default_factory=list)
    subscribed: list[EventSubscription] = field(default_factory=list)

    def finish(self, services: Services) -> None:
        """Queue the events the passes wrote or reopened, and the instance's next wake-up.

        Earlier events are looked up again now the subscriptions are stored: one published
        between the first look and the write may already have been processed without them.
        """
        queued = self.events_to_queue + reopen_earlier_events(services, self.subscribed, write=True)
        for event_id in dict.fromkeys(queued):
            services.queue.queue_work(QueueType.EVENT, event_id)
        services.wake_at_next_execution(self.workflow_id, self.next_execution)


def reopen_earlier_events(
    services: Services, subscriptions: list[EventSubscription], write: bool
) -> list[str]:
    """The earliest stored event each new subscription should receive (one published before it
    existed, but not before its as-of time), marked unprocessed when `write` is set."""
    reopened: list[str] = []
    for subscription in subscriptions:
        candidates = services.persistence.get_events(
            subscription.event_name, subscription.event_key, subscription.subscribe_as_of or utcnow()
        )
        if candidates:
            if write:
                services.persistence.mark_event_unprocessed(candidates[0])
            reopened.append(candidates[0])
    return reopened


class PassRunner:
    """Executes due steps pass after pass, writing each pass atomically."""

    def __init__(self, services: Services, executor: WorkflowExecutor) -> None:
        self._services = services
        self._executor = executor

    def run(self, workflow: WorkflowInstance, changes: WorkflowChanges) -> PassesDone | None:
        """Run passes while the instance stays due; `changes` may already hold what woke it.

        Returns None when the lock was lost, which discards the pass (its steps run again).
        """
        services = self._services
        done = PassesDone(workflow.id)
        for _ in range(MAX_INLINE_PASSES):
            if workflow.id in services.control:  # a suspend, resume or terminate waits for it
                done.next_execution = workflow.next_execution
                break
            try:
                report = self._executor.execute(workflow)
            except WorkflowNotRegisteredError as exc:
                self._suspend_unregistered(workflow, changes, exc)
                report = None
            if not services.lock.holds_lock(workflow.id):
                services.logger.error(
                    "lost the lock on workflow %s during a pass; its result is discarded "
                    "and the steps will run again",
                    workflow.id,
                )
                return None
            if report is not None:
                changes.subscriptions += report.subscriptions
                changes.errors += report.errors
            finished = child_completion_event(workflow)
            if finished is not None:
                changes.events.append(finished)
            for event_id in reopen_earlier_events(services, changes.subscriptions, write=False):
                changes.event_marks[event_id] = False
            if not self._write(changes):
                return done
            done.events_to_queue += [event.id for event in changes.events]
            done.events_to_queue += [
                event_id for event_id, processed in changes.event_marks.items() if not processed
            ]
            done.subscribed += changes.subscriptions
            done.next_execution = workflow.next_execution
            if report is None or not _due_again(workflow) or services.stopping.is_set():
                break
            changes = WorkflowChanges(workflow)
        return done

    def _write(self, changes: WorkflowChanges) -> bool:
        try:
            self._services.persistence.persist_changes(changes)
        except SerializationError as exc:
            self._suspend_unstorable(changes, exc)
            return False
        return True

    def _suspend_unregistered(
        self, workflow: WorkflowInstance, changes: WorkflowChanges, exc: WorkflowNotRegisteredError
    ) -> None:
        """Running it again cannot help until a node with the definition resumes it."""
        self._services.logger.error(
            "workflow %s: %s; the instance is suspended (resume it on a node that has it)", workflow.id, exc
        )
        workflow.status = WorkflowInstance.SUSPENDED
        workflow.next_execution = None
        changes.errors.append(record_error(workflow.id, f"{type(exc).__name__}: {exc}"))

    def _suspend_unstorable(self, changes: WorkflowChanges, exc: SerializationError) -> None:
        """A step produced data the store cannot hold: keep the last stored state, suspended,
        so fixing the code and resuming continues from there."""
        services = self._services
        workflow_id = changes.workflow.id
        services.logger.error(
            "workflow %s: the result of this pass cannot be stored (%s); the workflow is "
            "suspended at its last stored state",
            workflow_id,
            exc,
        )
        stored = services.persistence.get_workflow_instance(workflow_id)
        if stored is None:
            return
        stored.status = WorkflowInstance.SUSPENDED
        stored.next_execution = None
        suspended = WorkflowChanges(stored, errors=[record_error(workflow_id, f"SerializationError: {exc}")])
        # What woke the instance still happened: its event stays delivered.
        suspended.ended_subscriptions = changes.ended_subscriptions
        suspended.event_marks = {key: value for key, value in changes.event_marks.items() if value}
        services.persistence.persist_changes(suspended)


def _due_again(workflow: WorkflowInstance) -> bool:
    return workflow.next_execution is not None and workflow.next_execution <= utcnow()
