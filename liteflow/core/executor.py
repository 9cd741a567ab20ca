"""Runs one pass over a workflow instance: every due pointer's step, once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from contextvars import Context
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from .clock import Clock
from .definition import WorkflowDefinition, WorkflowStep
from .event_loop import HostEventLoop
from .lifecycle import StepCompleted, StepEvent, StepStarted, WorkflowError, instance_fields
from .lifecycle_dispatch import LifecycleDispatcher
from .middleware import Middleware
from .records import ExecutionPointer, WorkflowInstance
from .registry import WorkflowRegistry
from .result_processor import ExecutionReport, ResultProcessor
from .step import ExecutionResult, StepBody, StepExecutionContext
from .worker_gate import gated_worker

if TYPE_CHECKING:
    from .host import WorkflowHost

__all__ = ["PendingPass", "WorkflowExecutor", "determine_next_execution", "is_due", "next_execution_of"]


def _timed_wait(pointer: ExecutionPointer) -> bool:
    """A wait with a timeout: inactive, but due again when its timeout passes."""
    return (
        pointer.status == ExecutionPointer.WAITING
        and pointer.sleep_until is not None
        and pointer.end_time is None
        and not pointer.event_published
    )


def is_due(pointer: ExecutionPointer, now: datetime) -> bool:
    """Whether the pointer runs in a pass at `now`: active and awake, or a timed wait past its timeout."""
    if pointer.active:
        return pointer.sleep_until is None or pointer.sleep_until <= now
    return _timed_wait(pointer) and pointer.sleep_until is not None and pointer.sleep_until <= now


class PendingPass:
    """The rest of a pass that reached a step to await: its due pointers from that step on."""

    __slots__ = ("due", "now", "report")

    def __init__(self, report: ExecutionReport, now: datetime, due: list[ExecutionPointer]) -> None:
        self.report = report
        self.now = now
        self.due = due


class WorkflowExecutor:
    """Executes due steps, applies their results, and decides when the instance runs next."""

    def __init__(
        self,
        registry: WorkflowRegistry,
        processor: ResultProcessor,
        logger: logging.Logger,
        host: WorkflowHost | None = None,
        *,
        clock: Clock,
        middleware: Middleware | None = None,
        lifecycle: LifecycleDispatcher | None = None,
        loop: HostEventLoop | None = None,
    ) -> None:
        self._registry = registry
        self._processor = processor
        self._logger = logger
        self._host = host
        self._clock = clock
        self._middleware = middleware or Middleware()
        self._lifecycle = lifecycle
        self._loop = loop or HostEventLoop(logger)

    def definition_of(self, workflow: WorkflowInstance) -> WorkflowDefinition:
        return self._registry.get_definition(workflow.workflow_definition_id, workflow.version)

    def execute(
        self, workflow: WorkflowInstance, max_steps: int | None = None
    ) -> ExecutionReport | PendingPass:
        """One pass; with `max_steps`, at most that many due steps run (the rest stay due).

        It runs on this thread up to the first step to await: the rest of the pass (never more
        than `max_steps` in all) is then returned, for `execute_async` to finish on the host's
        event loop."""
        definition = self.definition_of(workflow)
        report = ExecutionReport(definition)
        if self._lifecycle is not None and self._lifecycle.wants_steps:
            report.lifecycle = []
        now = self._clock.now()
        self._process_cancellations(workflow, definition, report, now)
        due = [pointer for pointer in workflow.execution_pointers if is_due(pointer, now)]
        if max_steps is not None:  # containers still waiting for their children can wait
            waiting = _open_scopes(workflow.execution_pointers)
            due = [pointer for pointer in due if pointer.id not in waiting][:max_steps]
        for index, pointer in enumerate(due):
            if workflow.status != WorkflowInstance.RUNNABLE:
                break
            step = definition.find_step(pointer.step_id)
            if step is not None and (step.is_async or self._middleware.awaits_every_step):
                return PendingPass(report, now, due[index:])
            self._run_pointer(workflow, definition, pointer, step, report, now)
        return self._end_pass(workflow, report, now)

    async def execute_async(self, workflow: WorkflowInstance, pending: PendingPass) -> ExecutionReport:
        """Finish a pass `execute` stopped at a step to await, on the host's event loop: steps
        to await are awaited there, synchronous ones run on a step thread."""
        loop = self._loop
        report, now = pending.report, pending.now
        definition = report.definition
        for pointer in pending.due:
            if workflow.status != WorkflowInstance.RUNNABLE:
                break
            step = definition.find_step(pointer.step_id)
            if step is not None and (step.is_async or self._middleware.awaits_every_step):
                prepared = self._prepare(workflow, definition, pointer, step, report, now)
                if prepared is not None:
                    await self._await_step(*prepared, definition, report, now)
            else:
                run = partial(self._run_pointer, workflow, definition, pointer, step, report, now)
                await loop.in_thread(run)
        return self._end_pass(workflow, report, now)

    def _end_pass(
        self, workflow: WorkflowInstance, report: ExecutionReport, now: datetime
    ) -> ExecutionReport:
        if workflow.status == WorkflowInstance.RUNNABLE and all(
            pointer.end_time is not None for pointer in workflow.execution_pointers
        ):
            workflow.status = WorkflowInstance.COMPLETE
        if workflow.status == WorkflowInstance.COMPLETE and workflow.complete_time is None:
            workflow.complete_time = now
        determine_next_execution(workflow, now)
        return report

    def _run_pointer(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep | None,
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        prepared = self._prepare(workflow, definition, pointer, step, report, now)
        if prepared is None:
            return
        context, body = prepared
        returned: object
        slot = gated_worker()
        if slot is not None:
            slot.step_started()
        try:
            # In a context of its own: what a step sets is not seen by the next on this thread.
            if self._middleware.step:
                returned = Context().run(self._middleware.run_step, context, body)
            else:
                returned = Context().run(body.run, context)
        except Exception as exc:
            returned = exc
        if slot is not None:
            slot.step_ended()
        self._settle(context, body, definition, returned, report, now)

    async def _await_step(
        self,
        context: StepExecutionContext,
        body: StepBody,
        definition: WorkflowDefinition,
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        chain = self._middleware.awaited_step(context, body, context.step.is_async, self._loop)
        returned: object
        try:
            returned = await self._loop.in_own_context(chain)
        except Exception as exc:
            returned = exc
        self._settle(context, body, definition, returned, report, now)

    def _prepare(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep | None,
        report: ExecutionReport,
        now: datetime,
    ) -> tuple[StepExecutionContext, StepBody] | None:
        """Mark the pointer running; its step's context and body with its inputs, or None when
        there is nothing to run (an unknown step suspends the instance, a compensation may just
        have ended, the body or an input may have failed the step)."""
        if step is None:
            self._logger.error(
                "workflow %s: pointer %s refers to step %d, which %s v%d does not have",
                workflow.id,
                pointer.id,
                pointer.step_id,
                definition.id,
                definition.version,
            )
            pointer.active = False
            pointer.status = ExecutionPointer.FAILED
            workflow.status = WorkflowInstance.SUSPENDED
            return None
        if self._processor.finish_compensation(workflow, definition, pointer, step, now):
            return None
        if report.lifecycle is not None and pointer.status != ExecutionPointer.RUNNING:
            report.lifecycle.append(_step_event(StepStarted, workflow, step, pointer, now))
        if pointer.start_time is None:
            pointer.start_time = now
        pointer.status = ExecutionPointer.RUNNING
        pointer.sleep_until = None
        context = StepExecutionContext(workflow, step, pointer.persistence_data, pointer, self._host)
        try:
            body = step.construct_body()
            for mapping in step.inputs:
                mapping.apply_input(body, workflow.data, context)
        except Exception as exc:
            self._settle(context, None, definition, exc, report, now)
            return None
        return context, body

    def _settle(
        self,
        context: StepExecutionContext,
        body: StepBody | None,
        definition: WorkflowDefinition,
        returned: object,
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        """Apply what the step's run returned (None meaning next), its outputs when it
        proceeds, or the exception that failed it; tell listeners."""
        workflow, step, pointer = context.workflow, context.step, context.execution_pointer
        events = report.lifecycle
        if not isinstance(returned, Exception):
            try:
                if returned is None:
                    result = ExecutionResult.next()
                elif isinstance(returned, ExecutionResult):
                    result = returned
                else:
                    result = self._unusual_result(step, returned)
                if result.proceed:
                    for mapping in step.outputs:
                        mapping.apply_output(body, workflow)
            except Exception as exc:
                returned = exc
            else:
                self._processor.process_result(workflow, definition, pointer, step, result, report, now)
                if events is not None and result.proceed:
                    events.append(_step_event(StepCompleted, workflow, step, pointer, now))
                return
        if events is not None:
            events.append(_error_event(workflow, step, pointer, returned, now))
        self._processor.handle_error(workflow, definition, pointer, step, returned, report, now)

    def _unusual_result(self, step: WorkflowStep, returned: object) -> ExecutionResult:
        """An awaitable a synchronous function returned, awaited on the event loop while this
        thread waits; anything else is a mistake of the step."""
        if isinstance(returned, Awaitable):
            awaitable: Awaitable[object] = returned
            awaited = self._loop.wait(self._loop.in_own_context(lambda: awaitable))
            if awaited is None:
                return ExecutionResult.next()
            if isinstance(awaited, ExecutionResult):
                return awaited
            returned = awaited
        name = type(returned).__name__
        raise TypeError(f"step {step.display_name} returned {name}; return an ExecutionResult or None")

    def _process_cancellations(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        """Stop unfinished pointers of steps whose cancel condition now holds."""
        for step in definition.steps:
            if step.cancel_condition is None:
                continue
            unfinished = [
                pointer
                for pointer in workflow.execution_pointers
                if pointer.step_id == step.id and pointer.end_time is None
            ]
            if not unfinished:
                continue
            try:
                cancel = bool(step.cancel_condition(workflow.data))
            except Exception:
                self._logger.exception(
                    "workflow %s: cancel condition of step %d (%s) raised; not cancelling",
                    workflow.id,
                    step.id,
                    step.display_name,
                )
                continue
            if not cancel:
                continue
            for pointer in unfinished:
                self._processor.cancel(workflow, definition, pointer, step, report, now)


def _step_event(
    kind: type[StepEvent],
    workflow: WorkflowInstance,
    step: WorkflowStep,
    pointer: ExecutionPointer,
    now: datetime,
) -> StepEvent:
    return kind(*instance_fields(workflow, now), pointer.id, step.id, step.display_name)


def _error_event(
    workflow: WorkflowInstance, step: WorkflowStep, pointer: ExecutionPointer, exc: Exception, now: datetime
) -> WorkflowError:
    return WorkflowError(
        *instance_fields(workflow, now), pointer.id, step.id, step.display_name, type(exc).__name__, str(exc)
    )


def determine_next_execution(workflow: WorkflowInstance, now: datetime) -> None:
    """Set `next_execution` (see `next_execution_of`)."""
    workflow.next_execution = next_execution_of(workflow, now)


def next_execution_of(workflow: WorkflowInstance, now: datetime) -> datetime | None:
    """When the instance's steps need it to run: now if a step is ready, the earliest
    wake-up, or None if all wait (or it is not runnable).

    A container waits for its children: it is due only once every pointer in its scope ended,
    so a workflow whose leaves all wait for events or timers is never run in a loop.
    """
    if workflow.status != WorkflowInstance.RUNNABLE:
        return None
    pointers = workflow.execution_pointers
    open_scopes = _open_scopes(pointers)
    earliest: datetime | None = None
    for pointer in pointers:
        if pointer.active:
            if pointer.id in open_scopes:
                continue
            wake = pointer.sleep_until
            if wake is None:
                return now
        else:
            wake = pointer.sleep_until if _timed_wait(pointer) else None
        if wake is not None and (earliest is None or wake < earliest):
            earliest = wake
    return earliest


def _open_scopes(pointers: list[ExecutionPointer]) -> set[str]:
    """Ids of containers that still have unfinished pointers inside them."""
    return {
        scope_id
        for pointer in pointers
        if pointer.scope and pointer.end_time is None
        for scope_id in pointer.scope
    }
