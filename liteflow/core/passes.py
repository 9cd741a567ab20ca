"""Runs passes over an instance its caller has locked and loaded, and writes each in one go.

Both consumers use it: the workflow consumer for an instance that is due, the event
consumer for the instance an event just woke (so a delivered event costs one read and one
write of the instance, not two of each). Every pass ends in one atomic write of everything
it produced (`WorkflowChanges`); work is queued only after that write succeeded. On a store
that keeps nothing past the process (the in-memory one), a pass that produced nothing but the
instance's own changes and leaves it due at once is written together with the next one: there,
a write per step would cost time and make nothing survive that otherwise would not. A pass that
reaches a step to await is handed over, still locked, to be finished on the host's event loop
(`liteflow.core.loop_passes`), and ends in the same write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from .changes import WorkflowChanges
from .definition import WorkflowDefinition
from .errors import SerializationError, WorkflowNotRegisteredError
from .event_loop import HostEventLoop
from .executor import PendingPass, WorkflowExecutor
from .history import archive_finished
from .lifecycle import (
    LifecycleEvent,
    WorkflowCompleted,
    WorkflowSuspended,
    WorkflowTerminated,
    workflow_event,
)
from .limit_gate import Admission, LimitGate
from .primitives import child_completion_event
from .providers import QueueType
from .records import EventSubscription, ExecutionError, WorkflowInstance
from .result_processor import ExecutionReport
from .worker_services import Services

__all__ = ["STATUS_EVENTS", "HandedOver", "PassRunner", "PassesDone", "record_error", "status_event"]

#: Passes one worker runs back to back on one instance before letting others have a turn.
_MAX_INLINE_PASSES = 100


#: The lifecycle event announcing that an instance reached each status.
STATUS_EVENTS: dict[int, type[LifecycleEvent]] = {
    WorkflowInstance.COMPLETE: WorkflowCompleted,
    WorkflowInstance.TERMINATED: WorkflowTerminated,
    WorkflowInstance.SUSPENDED: WorkflowSuspended,
}


def record_error(workflow_id: str, message: str, when: datetime) -> ExecutionError:
    """An execution error of the instance, as stored with the pass that met it."""
    error = ExecutionError()
    error.error_time = when
    error.workflow_id = workflow_id
    error.message = message
    return error


@dataclass
class HandedOver:
    """A pass that reached a step to await, to be finished on the event loop (the instance's
    lock and flow-limit slots still held): the instance, what the pass wrote so far, and the
    passes before it."""

    workflow: WorkflowInstance
    changes: WorkflowChanges
    done: PassesDone
    pending: PendingPass
    status_before: int
    #: The flow-limit slots its run of passes holds (None: its workflow has no limits).
    admission: Admission | None = None


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
        queued = self.events_to_queue + _reopen_earlier_events(services, self.subscribed, write=True)
        for event_id in dict.fromkeys(queued):
            services.queue.queue_work(QueueType.EVENT, event_id)
        services.wake_at_next_execution(self.workflow_id, self.next_execution)


def _reopen_earlier_events(
    services: Services, subscriptions: list[EventSubscription], write: bool
) -> list[str]:
    """The earliest stored event each new subscription should receive (one published before it
    existed, but not before its as-of time), marked unprocessed when `write` is set."""
    reopened: list[str] = []
    for subscription in subscriptions:
        candidates = services.persistence.get_events(
            subscription.event_name,
            subscription.event_key,
            subscription.subscribe_as_of or services.clock.now(),
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
        self._gate = LimitGate(services)

    def run(self, workflow: WorkflowInstance, changes: WorkflowChanges) -> PassesDone | HandedOver | None:
        """Run passes while the instance stays due; `changes` may already hold what woke it.

        Returns None when the lock was lost, which discards the pass (its steps run again),
        and a `HandedOver` pass when one reached a step to await: whoever holds it finishes
        it (`finish_pass`), then lets it go (`let_go`) and releases the lock, which stays held
        meanwhile. A workflow with flow limits runs only when the gate admits it, holding its
        slots until the last pass is written (a handed-over one's until `let_go`).
        """
        limited = self._limited(workflow)
        if limited is None:
            return self._run(workflow, changes, None, None)
        admission = Admission()
        outcome: PassesDone | HandedOver | None = None
        try:
            outcome = self._run(workflow, changes, limited, admission)
        finally:
            if not isinstance(outcome, HandedOver):
                self._gate.release(admission)
        return outcome

    def _limited(self, workflow: WorkflowInstance) -> WorkflowDefinition | None:
        """The definition, when it has flow limits."""
        try:
            definition = self._executor.definition_of(workflow)
        except WorkflowNotRegisteredError:
            return None  # the pass suspends it
        return definition if definition.limits.any else None

    def _run(
        self,
        workflow: WorkflowInstance,
        changes: WorkflowChanges,
        limited: WorkflowDefinition | None,
        admission: Admission | None,
    ) -> PassesDone | HandedOver | None:
        services = self._services
        done = PassesDone(workflow.id)
        # A pass run but not written yet (see `_may_defer`): the next write includes it.
        deferred: ExecutionReport | None = None
        for _ in range(_MAX_INLINE_PASSES):
            status_before = workflow.status
            if workflow.id in services.control:  # a suspend, resume or terminate waits for it
                if deferred is not None:
                    return (
                        done
                        if self.conclude(workflow, changes, deferred, status_before, done) is not None
                        else None
                    )
                done.next_execution = workflow.next_execution
                break
            held_until = None
            if limited is not None and admission is not None:
                held_until = self._gate.admit(workflow, limited, admission)
            if held_until is not None:
                self._hold_back(workflow, changes, held_until, done)
                break
            try:
                report = self._executor.execute(
                    workflow, 1 if limited is not None and limited.limits.rate_count else None
                )
            except WorkflowNotRegisteredError as exc:
                self._suspend_unregistered(workflow, changes, exc)
                report = None
            if isinstance(report, PendingPass):
                return HandedOver(workflow, changes, done, report, status_before, admission)
            if limited is None and self._may_defer(workflow, changes, report, status_before):
                deferred = report
                continue
            deferred = None
            due_again = self.conclude(workflow, changes, report, status_before, done)
            if due_again is None:
                return None
            if not due_again:
                break
            changes = WorkflowChanges(workflow)
        if deferred is not None and self.conclude(workflow, changes, deferred, workflow.status, done) is None:
            return None
        return done

    def _may_defer(
        self,
        workflow: WorkflowInstance,
        changes: WorkflowChanges,
        report: ExecutionReport | None,
        status_before: int,
    ) -> bool:
        """Whether this pass may go unwritten until the next one's write, on a store that
        keeps nothing past the process (`is_durable` false): the instance runs on at once,
        and the pass produced nothing but the instance's own changes (no subscription, error,
        status change or lifecycle event, nothing that woke it)."""
        services = self._services
        return (
            not services.persistence.is_durable
            and report is not None
            and not report.subscriptions
            and not report.errors
            and not report.lifecycle
            and workflow.status == status_before == WorkflowInstance.RUNNABLE
            and not changes.has_side_effects
            and _due_again(workflow, services.clock.now())
            and not services.stopping.is_set()
            and workflow.id not in services.control
        )

    def _hold_back(
        self, workflow: WorkflowInstance, changes: WorkflowChanges, until: datetime, done: PassesDone
    ) -> None:
        """A limit keeps the instance waiting: write it (with what woke it) due at `until`."""
        workflow.next_execution = until
        if self._write(changes):
            done.events_to_queue += [
                event_id for event_id, processed in changes.event_marks.items() if not processed
            ]
            done.next_execution = until
        self._services.logger.debug("workflow %s waits for a flow limit until %s", workflow.id, until)

    async def finish_pass(self, handed: HandedOver, loop: HostEventLoop) -> PassesDone | None:
        """On the event loop: await the rest of a handed-over pass, then write it from an io
        thread. The instance, if due again, is queued (by `PassesDone.finish`) for a worker."""
        report = await self._executor.execute_async(handed.workflow, handed.pending)
        conclude = partial(self.conclude, handed.workflow, handed.changes, report, handed.status_before)
        due_again = await loop.io(conclude, handed.done)
        return None if due_again is None else handed.done

    def let_go(self, handed: HandedOver) -> None:
        """Free the flow-limit slots a handed-over pass held, once it was written (or failed,
        or was cancelled, or never ran), and queue who waited for them."""
        if handed.admission is not None:
            self._gate.release(handed.admission)

    def conclude(
        self,
        workflow: WorkflowInstance,
        changes: WorkflowChanges,
        report: ExecutionReport | None,
        status_before: int,
        done: PassesDone,
    ) -> bool | None:
        """Write a pass and add what follows to `done`; None when the lock was lost (nothing
        is written), else whether the instance should have another pass at once."""
        services = self._services
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
            if services.persistence.keeps_pointer_history:
                changes.archived_pointers += archive_finished(workflow, report.definition)
        now = services.clock.now()
        finished = child_completion_event(workflow, now)
        if finished is not None:
            changes.events.append(finished)
        for event_id in _reopen_earlier_events(services, changes.subscriptions, write=False):
            changes.event_marks[event_id] = False
        if not self._write(changes):
            return False
        if workflow.status != status_before or (report is not None and report.lifecycle):
            self._announce(workflow, status_before, report, now)
        done.events_to_queue += [event.id for event in changes.events]
        done.events_to_queue += [
            event_id for event_id, processed in changes.event_marks.items() if not processed
        ]
        done.subscribed += changes.subscriptions
        done.next_execution = workflow.next_execution
        return report is not None and _due_again(workflow, now) and not services.stopping.is_set()

    def _announce(
        self, workflow: WorkflowInstance, status_before: int, report: ExecutionReport | None, now: datetime
    ) -> None:
        """What a written pass tells: its lifecycle events, and a completion to workflow middleware."""
        services = self._services
        events = report.lifecycle if report is not None else None
        if workflow.status != status_before:
            if events is None and services.lifecycle is not None and services.lifecycle.wanted:
                events = []
            if events is not None and workflow.status in STATUS_EVENTS:
                events.append(status_event(workflow, now))
            if workflow.status == WorkflowInstance.COMPLETE:
                self._post_workflow(workflow, now)
        if events and services.lifecycle is not None:
            services.lifecycle.emit(events)

    def _post_workflow(self, workflow: WorkflowInstance, now: datetime) -> None:
        """Run every `post_workflow`; one that raises is logged and recorded, and the
        instance stays complete."""
        services = self._services
        for middleware, hook in services.middleware.post_workflow:
            try:
                hook(workflow)
            except Exception as exc:
                services.logger.exception("workflow %s: post_workflow of %r failed", workflow.id, middleware)
                message = f"post_workflow of {type(middleware).__name__} failed: {type(exc).__name__}: {exc}"
                try:
                    services.persistence.persist_errors([record_error(workflow.id, message, now)])
                except Exception:
                    services.logger.exception("workflow %s: could not record that error", workflow.id)

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
        message = f"{type(exc).__name__}: {exc}"
        changes.errors.append(record_error(workflow.id, message, self._services.clock.now()))

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
        now = services.clock.now()
        error = record_error(workflow_id, f"SerializationError: {exc}", now)
        suspended = WorkflowChanges(stored, errors=[error])
        # What woke the instance still happened: its event stays delivered.
        suspended.ended_subscriptions = changes.ended_subscriptions
        suspended.event_marks = {key: value for key, value in changes.event_marks.items() if value}
        services.persistence.persist_changes(suspended)
        if services.lifecycle is not None and services.lifecycle.wanted:
            services.lifecycle.emit([status_event(stored, now)])


def status_event(workflow: WorkflowInstance, now: datetime) -> LifecycleEvent:
    """The event saying that `workflow` reached its (complete, terminated or suspended) status."""
    return workflow_event(STATUS_EVENTS[workflow.status], workflow, now)


def _due_again(workflow: WorkflowInstance, now: datetime) -> bool:
    return workflow.next_execution is not None and workflow.next_execution <= now
