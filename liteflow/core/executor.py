"""Runs one pass over a workflow instance: every due pointer's step, once."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from .clock import Clock
from .definition import WorkflowDefinition, WorkflowStep
from .lifecycle import StepCompleted, StepEvent, StepStarted, WorkflowError, instance_fields
from .lifecycle_dispatch import LifecycleDispatcher
from .middleware import Middleware
from .records import ExecutionPointer, WorkflowInstance
from .registry import WorkflowRegistry
from .result_processor import ExecutionReport, ResultProcessor
from .step import ExecutionResult, StepExecutionContext

if TYPE_CHECKING:
    from .host import WorkflowHost

__all__ = ["WorkflowExecutor", "determine_next_execution", "is_due", "next_execution_of"]


def _timed_wait(pointer: ExecutionPointer) -> bool:
    """A wait with a timeout: inactive, but due again when its timeout passes."""
    return (
        pointer.status == ExecutionPointer.WAITING
        and pointer.sleep_until is not None
        and pointer.end_time is None
        and not pointer.event_published
    )


def is_due(pointer: ExecutionPointer, now: datetime) -> bool:
    if pointer.active:
        return pointer.sleep_until is None or pointer.sleep_until <= now
    return _timed_wait(pointer) and pointer.sleep_until is not None and pointer.sleep_until <= now


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
    ) -> None:
        self._registry = registry
        self._processor = processor
        self._logger = logger
        self._host = host
        self._clock = clock
        self._middleware = middleware or Middleware()
        self._lifecycle = lifecycle

    def definition_of(self, workflow: WorkflowInstance) -> WorkflowDefinition:
        return self._registry.get_definition(workflow.workflow_definition_id, workflow.version)

    def execute(self, workflow: WorkflowInstance, max_steps: int | None = None) -> ExecutionReport:
        """One pass; with `max_steps`, at most that many due steps run (the rest stay due)."""
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
        for pointer in due:
            if workflow.status != WorkflowInstance.RUNNABLE:
                break
            self._run_pointer(workflow, definition, pointer, report, now)
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
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        step = definition.find_step(pointer.step_id)
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
            return
        if self._processor.finish_compensation(workflow, definition, pointer, step, now):
            return
        events = report.lifecycle
        if events is not None and pointer.status != ExecutionPointer.RUNNING:
            events.append(_step_event(StepStarted, workflow, step, pointer, now))
        if pointer.start_time is None:
            pointer.start_time = now
        pointer.status = ExecutionPointer.RUNNING
        pointer.sleep_until = None
        context = StepExecutionContext(workflow, step, pointer.persistence_data, pointer, self._host)
        try:
            body = step.construct_body()
            for mapping in step.inputs:
                mapping.apply_input(body, workflow.data, context)
            result = self._middleware.run_step(context, body) if self._middleware.step else body.run(context)
            if result is None:
                result = ExecutionResult.next()
            elif not isinstance(result, ExecutionResult):
                raise TypeError(
                    f"step {step.display_name} returned {type(result).__name__}; "
                    "return an ExecutionResult or None"
                )
            if result.proceed:
                for mapping in step.outputs:
                    mapping.apply_output(body, workflow)
        except Exception as exc:
            if events is not None:
                events.append(_error_event(workflow, step, pointer, exc, now))
            self._processor.handle_error(workflow, definition, pointer, step, exc, report, now)
            return
        self._processor.process_result(workflow, definition, pointer, step, result, report, now)
        if events is not None and result.proceed:
            events.append(_step_event(StepCompleted, workflow, step, pointer, now))

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
