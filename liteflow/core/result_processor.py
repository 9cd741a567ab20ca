"""Applies what a step returned (or raised) to the workflow instance."""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta

from .definition import WorkflowDefinition, WorkflowStep
from .models import (
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowInstance,
    event_key_text,
)
from .pointers import child_pointer, next_pointer
from .step import ExecutionResult

__all__ = ["ExecutionReport", "ResultProcessor"]


class ExecutionReport:
    """What one pass over an instance produced besides the instance itself."""

    __slots__ = ("errors", "subscriptions")

    def __init__(self) -> None:
        self.subscriptions: list[EventSubscription] = []
        self.errors: list[ExecutionError] = []


class ResultProcessor:
    """Moves pointers forward from step results and applies error behaviour to failures."""

    def __init__(self, default_retry_interval: timedelta, logger: logging.Logger) -> None:
        self._default_retry_interval = default_retry_interval
        self._logger = logger

    def process_result(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        result: ExecutionResult,
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        pointer.persistence_data = result.persistence_data
        pointer.outcome = result.outcome_value
        if result.sleep_for is not None:
            pointer.sleep_until = now + result.sleep_for
            pointer.status = ExecutionPointer.SLEEPING
        if result.event_name is not None:
            self._subscribe(workflow, pointer, step, result, report, now)
        if result.proceed:
            pointer.active = False
            pointer.end_time = now
            pointer.status = ExecutionPointer.COMPLETE
            for outcome in step.outcomes:
                if outcome.matches(result.outcome_value):
                    target = definition.steps[outcome.next_step]
                    workflow.execution_pointers.append(next_pointer(pointer, target))
        elif result.branch_values:
            for item in result.branch_values:
                for child_id in step.children:
                    child = child_pointer(pointer, definition.steps[child_id], item)
                    workflow.execution_pointers.append(child)

    @staticmethod
    def _subscribe(
        workflow: WorkflowInstance,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        result: ExecutionResult,
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        pointer.event_name = result.event_name
        pointer.event_key = event_key_text(result.event_key)
        pointer.event_published = False
        pointer.active = False
        pointer.status = ExecutionPointer.WAITING
        subscription = EventSubscription()
        subscription.workflow_id = workflow.id
        subscription.step_id = step.id
        subscription.execution_pointer_id = pointer.id
        subscription.event_name = result.event_name or ""
        subscription.event_key = pointer.event_key
        subscription.subscribe_as_of = result.event_as_of or now
        report.subscriptions.append(subscription)

    def handle_error(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        exc: BaseException,
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        """Record the failure, then retry, suspend or terminate as the step asks."""
        self._logger.error(
            "workflow %s (%s v%s): step %d (%s) failed",
            workflow.id,
            workflow.workflow_definition_id,
            workflow.version,
            step.id,
            step.display_name,
            exc_info=exc,
        )
        error = ExecutionError()
        error.error_time = now
        error.workflow_id = workflow.id
        error.execution_pointer_id = pointer.id
        error.message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        report.errors.append(error)
        pointer.retry_count += 1
        pointer.status = ExecutionPointer.FAILED

        behavior = step.error_behavior
        if behavior is None:
            behavior = definition.default_error_behavior
        policy = step.retry_policy
        if (
            behavior == WorkflowStep.RETRY
            and policy is not None
            and policy.max_retries is not None
            and pointer.retry_count > policy.max_retries
        ):
            behavior = policy.then if policy.then is not None else WorkflowStep.TERMINATE
            self._logger.warning(
                "workflow %s: step %d (%s) failed %d times; giving up",
                workflow.id,
                step.id,
                step.display_name,
                pointer.retry_count,
            )

        if behavior == WorkflowStep.RETRY:
            default = definition.default_error_retry_interval or self._default_retry_interval
            delay = policy.delay_for(pointer.retry_count, default) if policy else default
            pointer.sleep_until = now + delay
            step.prime_for_retry(pointer)
        elif behavior == WorkflowStep.SUSPEND:
            workflow.status = WorkflowInstance.SUSPENDED
        else:
            workflow.status = WorkflowInstance.TERMINATED
            workflow.complete_time = now
