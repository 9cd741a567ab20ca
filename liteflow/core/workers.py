"""The host's workflow consumers and the poller; see `delivery` for the event consumers."""

from __future__ import annotations

from functools import partial

from .changes import WorkflowChanges
from .delivery import EventConsumer, event_lock_name
from .errors import ProviderError
from .executor import next_execution_of
from .loop_passes import LoopPasses
from .passes import HandedOver, PassesDone, PassRunner
from .providers import QueueType
from .quarantine import QUARANTINE_AFTER, Quarantine
from .records import WorkflowInstance
from .worker_gate import WorkerGate
from .worker_services import FAILED_ITEM_RETRIES, RetryLater, Services, consume

__all__ = [
    "EventConsumer",
    "RunnablePoller",
    "Services",
    "WorkflowConsumer",
    "event_lock_name",
    "CLAIM_POLLS",
    "LOCKED_WORKFLOW_RETRIES",
    "POLL_RUNNABLES_LOCK",
    "POLL_EVENTS_LOCK",
]

#: Tries a worker makes, backing off over about 3 s, to run an instance it found locked.
LOCKED_WORKFLOW_RETRIES = 8
POLL_RUNNABLES_LOCK = "liteflow:poll-runnables"
POLL_EVENTS_LOCK = "liteflow:poll-events"
#: Poll intervals a poll's claim on what it queued lasts: long enough for a worker to handle
#: it, short enough that work claimed by a node that died is queued again before the
#: operators' view calls it stuck (three intervals late).
CLAIM_POLLS = 2


class WorkflowConsumer:
    """Takes workflow ids from the queue and runs their due steps under the instance's lock."""

    def __init__(
        self,
        services: Services,
        runner: PassRunner,
        quarantine: Quarantine,
        loop_passes: LoopPasses,
        gate: WorkerGate | None = None,
    ) -> None:
        self._services = services
        self._gate = gate
        self._runner = runner
        self._quarantine = quarantine
        self._loop_passes = loop_passes
        # The holder of the lock queues the instance again when it is due, but a distributed
        # lock can also be held by no one (contenders that each won a minority of Redlock's
        # servers all gave up): a few retries cover that without waiting for the poller.
        self._retries = RetryLater(services, QueueType.WORKFLOW, limit=LOCKED_WORKFLOW_RETRIES)
        self._failed = RetryLater(services, QueueType.WORKFLOW, limit=QUARANTINE_AFTER)
        self._store_failed = RetryLater(services, QueueType.WORKFLOW, limit=FAILED_ITEM_RETRIES)

    def run(self, worker: int = 0) -> None:
        """The loop of workflow worker number `worker` (see `liteflow.core.worker_gate`)."""
        consume(self._services, QueueType.WORKFLOW, self.process_workflow, self._gate, worker)

    def process_workflow(self, workflow_id: str) -> None:
        services = self._services
        if self._quarantine.is_given_up(workflow_id):
            return
        if workflow_id in services.control or not services.lock.acquire_lock(workflow_id):
            services.logger.debug("workflow %s is locked by another worker; retrying soon", workflow_id)
            self._retries.schedule(workflow_id)
            return
        self._retries.succeeded(workflow_id)
        try:
            outcome = self._run_due(workflow_id)
        except BaseException as exc:
            self._end(workflow_id, None, exc)
            if isinstance(exc, ProviderError) or not isinstance(exc, Exception):
                raise  # the store failed for a moment: the worker loop tries again
            return
        if isinstance(outcome, HandedOver):
            self._loop_passes.hand_over(outcome, partial(self._end_awaited, workflow_id))
        else:
            self._end(workflow_id, outcome, None)

    def _end(self, workflow_id: str, done: PassesDone | None, error: BaseException | None) -> None:
        """Count the passes' failure or success, release the instance, queue what follows."""
        services = self._services
        try:
            if error is None:
                self._quarantine.succeeded(workflow_id)
            elif (
                isinstance(error, Exception)
                and not isinstance(error, ProviderError)
                and not self._quarantine.workflow_failed(workflow_id, error)
            ):
                self._failed.schedule(workflow_id)
        finally:
            services.lock.release_lock(workflow_id)
        if done is not None:
            done.finish(services)

    def _end_awaited(self, workflow_id: str, done: PassesDone | None, error: BaseException | None) -> None:
        self._end(workflow_id, done, error)
        if isinstance(error, ProviderError):  # what the worker loop does for its own passes
            self._store_failed.schedule(workflow_id)

    def _run_due(self, workflow_id: str) -> PassesDone | HandedOver | None:
        workflow = self._services.persistence.get_workflow_instance(workflow_id)
        if workflow is None or workflow.status != WorkflowInstance.RUNNABLE:
            return None
        # Its steps decide, not the stored wake-up: a flow limit may have put that later.
        due = next_execution_of(workflow, self._services.clock.now())
        if due is None or due > self._services.clock.now():
            return PassesDone(workflow_id, workflow.next_execution)
        return self._runner.run(workflow, WorkflowChanges(workflow))


class RunnablePoller:
    """Every poll interval, queues due instances and unprocessed events found in the store.

    Local timers wake this node's own work on time; the poller finds what a restart or
    another node left behind. One node polls at a time (it takes a lock to do so), and a poll
    queues only what no poll claimed: it claims what it queues for `CLAIM_POLLS` intervals, so
    work being handled is queued once, and work claimed by a node that died is found again
    when its claim ends. A poll costs what is due, not what is stored.
    """

    def __init__(self, services: Services) -> None:
        self._services = services
        self._claim = services.options.poll_interval * CLAIM_POLLS

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
        now = services.clock.now()
        until = now + self._claim
        if services.lock.acquire_lock(POLL_RUNNABLES_LOCK):
            try:
                for workflow_id in services.persistence.claim_runnable_instances(now, until):
                    services.queue.queue_work(QueueType.WORKFLOW, workflow_id)
            finally:
                services.lock.release_lock(POLL_RUNNABLES_LOCK)
        if services.lock.acquire_lock(POLL_EVENTS_LOCK):
            try:
                for event_id in services.persistence.claim_runnable_events(now, until):
                    services.queue.queue_work(QueueType.EVENT, event_id)
            finally:
                services.lock.release_lock(POLL_EVENTS_LOCK)
