"""The workflow host: registers workflows, starts instances, publishes events, runs workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any

from .clock import SystemClock, to_utc
from .control import InstanceControl, checked_actor
from .errors import HostStateError, InstanceIdConflictError, InvalidArgumentError, WorkflowNotFoundError
from .event_loop import HostEventLoop
from .executor import WorkflowExecutor
from .host_async import AsyncHostMethods, finished, poll_pauses, unfinished_error
from .host_schedules import ScheduleMethods
from .lifecycle import LifecycleEvent, WorkflowStarted, workflow_event
from .lifecycle_dispatch import LifecycleDispatcher
from .lifecycle_hub import LifecycleEventHandler
from .limit_gate import check_concurrency_key
from .loop_passes import LoopPasses
from .middleware import Middleware, StepMiddleware
from .options import HostOptions
from .passes import PassRunner
from .pointers import genesis_pointer
from .providers import LockProvider, PersistenceProvider, QueueProvider, QueueType
from .quarantine import Quarantine
from .records import Event, WorkflowInstance, checked_event_name, checked_instance_id, event_key_text
from .registry import WorkflowRegistry
from .result_processor import ResultProcessor
from .schedule_runner import ScheduleRunner
from .scheduler import WakeUpScheduler
from .schedules import ScheduleBook
from .text import is_storable_text
from .worker_gate import WorkerGate
from .worker_services import ControlRequests, Services
from .workers import EventConsumer, RunnablePoller, WorkflowConsumer
from .workflow import Workflow

__all__ = ["WorkflowHost"]


def _event_kinds(kinds: Iterable[type[LifecycleEvent]]) -> tuple[type[LifecycleEvent], ...]:
    chosen: tuple[Any, ...] = (kinds,) if isinstance(kinds, type) else tuple(kinds)
    wrong = [kind for kind in chosen if not (isinstance(kind, type) and issubclass(kind, LifecycleEvent))]
    if wrong:
        raise InvalidArgumentError(f"kinds must be LifecycleEvent classes, got {wrong!r}")
    return chosen


def _only(kinds: tuple[type[LifecycleEvent], ...], handler: LifecycleEventHandler) -> LifecycleEventHandler:
    """`handler`, called only for events of `kinds`."""

    def receive(event: LifecycleEvent) -> None:
        if isinstance(event, kinds):
            handler(event)

    return receive


class WorkflowHost(ScheduleMethods, AsyncHostMethods):
    """Runs registered workflows on its persistence, queue and lock providers.

    Synchronous steps run on its worker threads, ``async def`` steps on its event loop (a
    thread of its own; see `liteflow.core.loop_passes`). Its ``*_async`` methods are for
    callers on an event loop of their own.
    """

    def __init__(
        self,
        persistence_service: PersistenceProvider,
        queue_service: QueueProvider,
        lock_service: LockProvider,
        options: HostOptions | None = None,
    ) -> None:
        self.persistence_service = persistence_service
        self.queue_service = queue_service
        self.lock_service = lock_service
        self.options = options or HostOptions()
        self.registry = WorkflowRegistry()
        #: Where the engine's times come from (the `clock` option).
        self.clock = self.options.clock
        self._logger = self.options.logger
        self._middleware = Middleware(self.options.step_middleware, self.options.workflow_middleware)
        self._lifecycle = LifecycleDispatcher(
            self.options.lifecycle_event_hub, self._logger, self.options.lifecycle_buffer
        )
        self._processor = ResultProcessor(self.options.default_error_retry_interval, self._logger)
        self._event_loop = HostEventLoop(self._logger)
        self._executor = WorkflowExecutor(
            self.registry,
            self._processor,
            self._logger,
            self,
            clock=self.clock,
            middleware=self._middleware,
            lifecycle=self._lifecycle,
            loop=self._event_loop,
        )
        self._scheduler = WakeUpScheduler(queue_service, self._logger, self.clock)
        # Back-offs between retries are real seconds; with another clock they get their own timer.
        self._retry_scheduler = (
            self._scheduler
            if isinstance(self.clock, SystemClock)
            else WakeUpScheduler(queue_service, self._logger, SystemClock(), "retries")
        )
        self._state_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._running = False
        self._control_requests = ControlRequests()
        self._control = InstanceControl(
            persistence_service,
            queue_service,
            lock_service,
            self.registry,
            self._processor,
            self._lifecycle,
            self._control_requests,
            self.clock,
        )
        self._schedules = ScheduleBook(persistence_service, self._logger)
        self._schedule_runner: ScheduleRunner | None = None
        self._loop_passes: LoopPasses | None = None
        self._worker_gate: WorkerGate | None = None

    @property
    def _persistence_service(self) -> PersistenceProvider:
        """The original's name for `persistence_service`, kept for its test harness."""
        return self.persistence_service

    @property
    def is_running(self) -> bool:
        """Whether `start()` has been called and `stop()` has not."""
        return self._running

    def on_lifecycle_event(
        self,
        handler: LifecycleEventHandler,
        *,
        cluster: bool = True,
        kinds: Iterable[type[LifecycleEvent]] | None = None,
    ) -> Callable[[], None]:
        """Call `handler(event)` for every lifecycle event (of `kinds`, when given); returns
        the function that unsubscribes it.

        Handlers run on a dispatcher thread, never on a workflow worker, and only after what
        the event tells was stored. With a cluster-wide hub they see every node's events;
        ``cluster=False`` keeps to this host's own (and, with `kinds` that leave out the step
        events, spares the engine from building those).
        """
        if not callable(handler):
            raise InvalidArgumentError(f"on_lifecycle_event() needs a callable, got {handler!r}")
        wanted = None if kinds is None else _event_kinds(kinds)
        receiver = handler if wanted is None else _only(wanted, handler)
        if cluster:
            return self._lifecycle.hub.subscribe(receiver)
        return self._lifecycle.subscribe_node(receiver, wanted)

    def add_step_middleware(self, middleware: StepMiddleware, *, outermost: bool = False) -> None:
        """Wrap every later step run in `middleware` too: inside those already installed, or
        around them all with `outermost`."""
        self._middleware.add_step(middleware, outermost=outermost)

    def add_workflow_middleware(self, middleware: object) -> None:
        """Add an object with `pre_workflow(instance)` and/or `post_workflow(instance)`."""
        self._middleware.add_workflow(middleware)

    def register_workflow(self, workflow: Workflow, **limits: Any) -> None:
        """Build and register a workflow definition; errors name the workflow and the problem.

        `limits` (``max_concurrent``, ``max_concurrent_per_key``, ``concurrency_key``,
        ``rate_limit``) override the flow limits the workflow's class declares.
        """
        definition = self.registry.register_workflow(workflow, **limits)
        self._logger.debug("registered workflow %s v%d", definition.id, definition.version)

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        with self._state_lock:
            if self._running:
                return
            stragglers = [thread.name for thread in self._threads if thread.is_alive()]
            if stragglers:
                raise HostStateError(
                    f"cannot start: {len(stragglers)} thread(s) of the previous run are still "
                    f"finishing a step ({', '.join(stragglers)}); call stop() again and retry"
                )
            self.persistence_service.start()
            self.queue_service.start()
            self.lock_service.start()
            self._lifecycle.start()
            self.clock.attach(self)
            self._stopping = threading.Event()
            services = Services(
                self.persistence_service,
                self.queue_service,
                self.lock_service,
                self._scheduler,
                self.options,
                self._stopping,
                self._control_requests,
                retry_scheduler=self._retry_scheduler,
                middleware=self._middleware,
                lifecycle=self._lifecycle,
            )
            runner = PassRunner(services, self._executor)
            quarantine = Quarantine(services)
            self._event_loop.start(io_threads=self.options.max_concurrent_workflows)
            loop_passes = LoopPasses(
                services, runner, self._event_loop, self.options.max_concurrent_async_steps
            )
            self._loop_passes = loop_passes
            events = EventConsumer(services, runner, quarantine, loop_passes)
            self._worker_gate = (
                WorkerGate(self.options.max_concurrent_workflows)
                if self.persistence_service.runs_in_process
                else None
            )
            workflows = WorkflowConsumer(services, runner, quarantine, loop_passes, self._worker_gate)
            poller = RunnablePoller(services)
            self._schedule_runner = ScheduleRunner(
                services, self._schedules, self._runs_schedule, self._start_tick
            )
            targets: list[tuple[str, Callable[[], None]]] = [
                (f"liteflow-workflow-{n}", partial(workflows.run, n))
                for n in range(self.options.max_concurrent_workflows)
            ]
            targets += [(f"liteflow-event-{n}", events.run) for n in range(self.options.event_workers)]
            targets.append(("liteflow-poller", poller.run))
            targets.append(("liteflow-schedules", self._schedule_runner.run))
            self._scheduler.start()
            if self._retry_scheduler is not self._scheduler:
                self._retry_scheduler.start()
            self._threads = [
                threading.Thread(target=target, name=name, daemon=True) for name, target in targets
            ]
            for thread in self._threads:
                thread.start()
            self._running = True
        self._logger.info(
            "workflow host started (%d workflow workers)", self.options.max_concurrent_workflows
        )

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking work, wait up to `timeout` seconds (default: the shutdown_timeout
        option) for running steps to finish, then release locks and connections and return.

        Items in hand are finished and acknowledged before the queue shuts (a queue with
        redelivery would otherwise hand them out again after a restart); `start()` connects
        the providers again. Async steps still awaited when the time is up are cancelled:
        their passes write nothing, and they run again after a restart.
        """
        self._not_on_event_loop("stop")
        with self._state_lock:
            if not self._running:
                return
            self._running = False
            self.clock.detach(self)
            self._stopping.set()
            if self._schedule_runner is not None:
                self._schedule_runner.wake()
            schedulers = {self._scheduler, self._retry_scheduler}
            scheduler_threads = [thread for scheduler in schedulers if (thread := scheduler.stop())]
            self.queue_service.wake_dequeues()
            if self._worker_gate is not None:
                self._worker_gate.close()
            limit = self.options.shutdown_timeout.total_seconds() if timeout is None else timeout
            deadline = time.monotonic() + limit
            threads = [*self._threads, *scheduler_threads]
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            unfinished = self._loop_passes.stop(deadline) if self._loop_passes is not None else 0
            self._event_loop.stop()
            self._threads = threads
            stragglers = [thread.name for thread in threads if thread.is_alive()]
            stragglers += [f"{unfinished} awaited pass(es)"] if unfinished else []
            if stragglers:
                self._logger.warning(
                    "stop(): %d thread(s) still running a step after %.1f s: %s",
                    len(stragglers),
                    limit,
                    ", ".join(stragglers),
                )
            self._lifecycle.stop(max(0.0, deadline - time.monotonic()))
            self.queue_service.shutdown()
            self.lock_service.shutdown()
            if not stragglers:
                self.persistence_service.close()
        self._logger.info("workflow host stopped")

    def __enter__(self) -> WorkflowHost:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start_workflow(
        self,
        workflow_id: str,
        version: int | None = None,
        data: Any = None,
        reference: str | None = None,
        parent_workflow_id: str | None = None,
        *,
        instance_id: str | None = None,
    ) -> str:
        """Create an instance of a registered workflow (latest version by default); return its id.

        With `instance_id`, the caller chooses the id, and starting again with the same id
        starts nothing and returns it: the store's unique key decides, atomically, also when
        several hosts try at once (an instance of another workflow with that id raises
        `InstanceIdConflictError`).

        `parent_workflow_id` is set by `sub_workflow` steps: the parent is told when this
        instance completes or is terminated. Workflow middleware's `pre_workflow` runs first,
        here, on the new instance; if one raises, nothing is stored and the error propagates.
        """
        if not isinstance(workflow_id, str) or not workflow_id:
            shown = repr(workflow_id) if isinstance(workflow_id, str) else type(workflow_id).__name__
            raise InvalidArgumentError(f"start_workflow() needs a workflow id string, got {shown}")
        if version is not None and type(version) is not int:
            raise InvalidArgumentError(
                f"start_workflow() version must be an int or None, got {type(version).__name__}"
            )
        if reference is not None and (not isinstance(reference, str) or not is_storable_text(reference)):
            raise InvalidArgumentError(
                "start_workflow() reference must be text that stores can hold, or None"
            )
        chosen_id = None if instance_id is None else checked_instance_id(instance_id)
        definition = self.registry.get_definition(workflow_id, version)
        if data is None and definition.data_type is not None:
            data = definition.data_type()
        check_concurrency_key(definition, data)
        instance = WorkflowInstance()
        instance.workflow_definition_id = definition.id
        instance.version = definition.version
        instance.description = definition.description
        instance.reference = reference
        instance.parent_workflow_id = parent_workflow_id
        instance.data = data
        instance.status = WorkflowInstance.RUNNABLE
        instance.create_time = self.clock.now()
        instance.next_execution = instance.create_time
        instance.execution_pointers.append(genesis_pointer(definition.initial_step))
        for pre_workflow in self._middleware.pre_workflow:
            pre_workflow(instance)
        if chosen_id is None:
            new_id = self.persistence_service.create_workflow(instance)
        else:
            instance.id = new_id = chosen_id
            if not self.persistence_service.create_workflow_if_new(instance):
                return self._existing(chosen_id, definition.id)
        if self._lifecycle.wanted:  # told before any worker can run (and announce) its first step
            self._lifecycle.emit([workflow_event(WorkflowStarted, instance, instance.create_time)])
        self.queue_service.queue_work(QueueType.WORKFLOW, new_id)
        self._logger.debug("started workflow %s v%d: %s", definition.id, definition.version, new_id)
        return new_id

    def _existing(self, instance_id: str, definition_id: str) -> str:
        """The id of the instance started before under `instance_id`, if of this workflow."""
        existing = self.persistence_service.get_workflow_instance(instance_id)
        if existing is not None and existing.workflow_definition_id != definition_id:
            raise InstanceIdConflictError(
                f"instance id {instance_id!r} belongs to an instance of workflow "
                f"{existing.workflow_definition_id!r}, not {definition_id!r}"
            )
        self._logger.debug("workflow %s was started before: nothing to start", instance_id)
        return instance_id

    def publish_event(
        self,
        event_name: str,
        event_key: Any,
        event_data: Any = None,
        effective_date: datetime | None = None,
    ) -> str:
        """Store an event and deliver it to every workflow waiting for (name, key); return its id.

        The key is a str, int or UUID (compared as text); anything else raises `InvalidArgumentError`.
        """
        event = Event()
        event.event_name = checked_event_name(event_name, "publish_event()")
        event.event_key = event_key_text(event_key)
        event.event_data = event_data
        try:
            event.event_time = self.clock.now() if effective_date is None else to_utc(effective_date)
        except (TypeError, OverflowError) as exc:
            raise InvalidArgumentError(f"publish_event() effective_date: {exc}") from None
        event.is_processed = False
        event_id = self.persistence_service.create_event(event)
        self.queue_service.queue_work(QueueType.EVENT, event_id)
        self._logger.debug("published event %s/%s: %s", event_name, event.event_key, event_id)
        return event_id

    def get_workflow_instance(self, workflow_id: str) -> WorkflowInstance:
        """The stored instance; raises `WorkflowNotFoundError` when the store has none with that
        id."""
        instance = self.persistence_service.get_workflow_instance(workflow_id)
        if instance is None:
            raise WorkflowNotFoundError(f"no workflow instance with id {workflow_id!r}")
        return instance

    def wait_for_workflow(self, workflow_id: str, timeout: float = 30.0) -> WorkflowInstance:
        """Block until the instance completes or is terminated; return it.

        Raises TimeoutError naming the instance and its status when `timeout` seconds pass.
        """
        self._not_on_event_loop("wait_for_workflow")
        for pause in poll_pauses(timeout):
            instance = self.get_workflow_instance(workflow_id)
            if finished(instance):
                return instance
            time.sleep(pause)
        instance = self.get_workflow_instance(workflow_id)
        if finished(instance):
            return instance
        raise unfinished_error(instance, timeout)

    def suspend_workflow(self, workflow_id: str, *, actor: str | None = None) -> bool:
        """Pause a runnable instance; True if it was runnable and is now suspended.

        `actor` (who did it: free text) is noted with the action in the instance's history.
        """
        self._not_on_event_loop("suspend_workflow")
        actor = checked_actor(actor, "suspend_workflow()")
        return self._control.change_status(
            workflow_id, {WorkflowInstance.RUNNABLE}, WorkflowInstance.SUSPENDED, actor
        )

    def resume_workflow(self, workflow_id: str, *, actor: str | None = None) -> bool:
        """Make a suspended instance runnable again; its failed or paused step runs again."""
        self._not_on_event_loop("resume_workflow")
        actor = checked_actor(actor, "resume_workflow()")
        return self._control.change_status(
            workflow_id, {WorkflowInstance.SUSPENDED}, WorkflowInstance.RUNNABLE, actor
        )

    def terminate_workflow(self, workflow_id: str, *, actor: str | None = None) -> bool:
        """End a runnable or suspended instance for good; True if it was not already finished."""
        self._not_on_event_loop("terminate_workflow")
        actor = checked_actor(actor, "terminate_workflow()")
        return self._control.change_status(
            workflow_id,
            {WorkflowInstance.RUNNABLE, WorkflowInstance.SUSPENDED},
            WorkflowInstance.TERMINATED,
            actor,
        )

    def retry_workflow(
        self, workflow_id: str, from_step: int | str | None = None, *, actor: str | None = None
    ) -> None:
        """Run a suspended or terminated instance again, keeping its data and history: its
        failed steps run again with fresh attempts, or, with `from_step` (a step id, or the
        name given with ``.name(...)``), the flow restarts at that step (where it last ran:
        in its block, with its foreach item; what still ran in that branch is cancelled).

        Raises `WorkflowStateError` (changing nothing) for an instance that is runnable or
        complete, or that has no failed step and no `from_step`.
        """
        self._not_on_event_loop("retry_workflow")
        actor = checked_actor(actor, "retry_workflow()")
        self._control.retry(workflow_id, from_step, actor)

    def skip_step(self, workflow_id: str, step: int | str, *, actor: str | None = None) -> None:
        """Mark a failed step complete without running it, and move on after it (a suspended
        or terminated instance becomes runnable). Needs the workflow's definition registered.

        Raises `WorkflowStateError` (changing nothing) when the step has not failed.
        """
        self._not_on_event_loop("skip_step")
        actor = checked_actor(actor, "skip_step()")
        self._control.skip(workflow_id, step, actor)

    def fork_workflow(self, workflow_id: str, from_step: int | str, *, actor: str | None = None) -> str:
        """Start a new instance of the same definition at `from_step` (a step of the workflow's
        own chain) with a copy of this instance's current data; return its id. Both instances'
        histories note the fork; the original is not changed otherwise."""
        self._not_on_event_loop("fork_workflow")
        actor = checked_actor(actor, "fork_workflow()")
        return self._control.fork(workflow_id, from_step, actor)

    def _not_on_event_loop(self, call: str) -> None:
        """Refuse a call that would wait, on the host's own event loop, for work that loop does."""
        if self._event_loop.is_loop_thread():
            raise HostStateError(
                f"{call}() would block the host's event loop, which runs the steps it waits for; "
                f"in an async step, await {call}_async()"
            )
