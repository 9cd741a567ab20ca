"""Applies what a step returned (or raised) to the workflow instance."""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta

from .clock import MIN_TIME
from .definition import WorkflowDefinition, WorkflowStep
from .lifecycle import LifecycleEvent
from .pointers import child_pointer, compensation_pointer, next_pointer
from .records import (
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowInstance,
    event_key_text,
)
from .step import ExecutionResult

__all__ = ["ExecutionReport", "ResultProcessor"]

#: In a saga's persistence data while its compensations run.
_COMPENSATING = "compensating"
#: Characters of a failure's traceback kept with its error (the last ones: the innermost frames).
_MAX_TRACEBACK = 16_000


def _traceback_text(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text if len(text) <= _MAX_TRACEBACK else "...\n" + text[-_MAX_TRACEBACK:]


class ExecutionReport:
    """What one pass over an instance produced besides the instance itself."""

    __slots__ = ("definition", "errors", "lifecycle", "subscriptions")

    def __init__(self, definition: WorkflowDefinition) -> None:
        #: The definition the pass ran.
        self.definition = definition
        self.subscriptions: list[EventSubscription] = []
        self.errors: list[ExecutionError] = []
        #: The pass's lifecycle events, in order; None when nobody listens (none are made).
        self.lifecycle: list[LifecycleEvent] | None = None


class ResultProcessor:
    """Moves pointers forward from step results; applies error behaviour and compensation."""

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
            pointer.event_data = None  # the step's outputs have taken what they need
            self._complete(workflow, definition, pointer, step, result, now)
        elif result.branch_values:
            for item in result.branch_values:
                for child_id in step.children:
                    child = child_pointer(pointer, definition.steps[child_id], item)
                    workflow.execution_pointers.append(child)

    def _complete(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        result: ExecutionResult,
        now: datetime,
    ) -> None:
        pointer.active = False
        pointer.end_time = now
        pointer.status = ExecutionPointer.COMPLETE
        self._follow_outcomes(workflow, definition, pointer, step, result.outcome_value, now)
        for waiting in workflow.execution_pointers:
            if (
                waiting.status == ExecutionPointer.PENDING_PREDECESSOR
                and waiting.predecessor_id == pointer.id
            ):
                waiting.status = ExecutionPointer.PENDING
                waiting.active = True

    def _follow_outcomes(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        outcome_value: object,
        now: datetime,
        after: ExecutionPointer | None = None,
    ) -> None:
        """Add the pointers of the steps the outcome leads to; with `after`, they wait for that
        pointer (the last compensation) to complete first."""
        for outcome in step.outcomes:
            if not outcome.matches(outcome_value):
                continue
            target = definition.steps[outcome.next_step]
            following = next_pointer(pointer, target)
            if outcome.jump:
                self._leave_blocks(workflow, pointer, following, target, now)
            if after is not None:
                following.predecessor_id = after.id
                following.active = False
                following.status = ExecutionPointer.PENDING_PREDECESSOR
            workflow.execution_pointers.append(following)

    def _leave_blocks(
        self,
        workflow: WorkflowInstance,
        pointer: ExecutionPointer,
        following: ExecutionPointer,
        target: WorkflowStep,
        now: datetime,
    ) -> None:
        """A jump leaves every block between `pointer` and the target's block: those containers
        end (without moving on after themselves), with whatever still runs inside them. The
        jump's `following` pointer takes the scope, and the foreach item, of the target's block
        (the item of the outermost container left)."""
        scope = pointer.scope
        depth = len(scope)
        for index, container_id in enumerate(scope):
            container = workflow.find_pointer(container_id)
            if container is not None and container.step_id == target.block_id:
                depth = index
                break
        if not depth:
            return
        left = set(scope[:depth])
        for other in workflow.execution_pointers:
            if other.end_time is None and (other.id in left or left.intersection(other.scope)):
                status = ExecutionPointer.COMPLETE if other.id in left else ExecutionPointer.CANCELLED
                self._stop(other, status, now)
        outermost = workflow.find_pointer(scope[depth - 1])
        following.scope = list(scope[depth:])
        following.context_item = None if outermost is None else outermost.context_item

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
        for name, key in [(result.event_name or "", pointer.event_key), *result.other_events]:
            subscription = EventSubscription()
            subscription.workflow_id = workflow.id
            subscription.step_id = step.id
            subscription.execution_pointer_id = pointer.id
            subscription.event_name = name
            subscription.event_key = key
            subscription.subscribe_as_of = result.event_as_of or now
            report.subscriptions.append(subscription)

    def skip(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        now: datetime,
    ) -> None:
        """Complete a failed pointer without running its step (an operator's `skip_step`): the
        flow moves on as if it returned `next()`, without its outputs."""
        pointer.sleep_until = None
        self._complete(workflow, definition, pointer, step, ExecutionResult.next(), now)
        pointer.status = ExecutionPointer.SKIPPED

    def cancel(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        report: ExecutionReport,
        now: datetime,
    ) -> None:
        """Stop a pointer and everything inside it; with proceed_on_cancel, move on after it."""
        for inner in workflow.execution_pointers:
            if pointer.id in inner.scope and inner.end_time is None:
                self._stop(inner, ExecutionPointer.CANCELLED, now)
        if step.proceed_on_cancel:
            self._complete(workflow, definition, pointer, step, ExecutionResult.next(), now)
        else:
            self._stop(pointer, ExecutionPointer.CANCELLED, now)

    @staticmethod
    def _stop(pointer: ExecutionPointer, status: int, now: datetime) -> None:
        pointer.active = False
        pointer.end_time = now
        pointer.sleep_until = None
        pointer.status = status

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
        """Record the failure, then retry, suspend, terminate or compensate as the step asks."""
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
        error.traceback = _traceback_text(exc)
        report.errors.append(error)
        pointer.status = ExecutionPointer.FAILED
        behavior = step.error_behavior
        if behavior is None:
            behavior = (
                WorkflowStep.COMPENSATE
                if self._in_compensable_scope(workflow, definition, pointer)
                else definition.default_error_behavior
            )
        self._apply(workflow, definition, pointer, step, behavior, now)

    def _apply(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        behavior: int,
        now: datetime,
    ) -> None:
        pointer.retry_count += 1
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
        elif behavior == WorkflowStep.TERMINATE:
            workflow.status = WorkflowInstance.TERMINATED
            workflow.complete_time = now
        else:
            self._compensate(workflow, definition, pointer, now)

    @staticmethod
    def _in_compensable_scope(
        workflow: WorkflowInstance, definition: WorkflowDefinition, pointer: ExecutionPointer
    ) -> bool:
        """Whether the failing step, or a container around it, has something to undo.

        A compensation that fails is not itself compensated: it takes the workflow's default
        behaviour (retried, by default), so the undoing still happens.
        """
        scope_steps = [
            definition.steps[scope_pointer.step_id]
            for scope_pointer in map(workflow.find_pointer, (pointer.id, *pointer.scope))
            if scope_pointer is not None
        ]
        if any(scope_step.is_compensation for scope_step in scope_steps):
            return False
        return any(
            scope_step.compensation_step_id is not None or scope_step.revert_children_after_compensation
            for scope_step in scope_steps
        )

    def _compensate(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        failed: ExecutionPointer,
        now: datetime,
    ) -> None:
        """Undo from the failed step outwards, one compensation after another.

        The failed step's own compensation runs first; inside a saga, its completed siblings
        are compensated next, latest first, then the walk moves to the enclosing container.
        The saga itself waits until every compensation finished, then applies its error
        behaviour (by default: continue after it). Outside a saga, the flow continues after
        the failed step once its compensation finished.
        """
        chain: list[ExecutionPointer] = []
        current: ExecutionPointer | None = failed
        while current is not None:
            step = definition.steps[current.step_id]
            if current is not failed and step.is_transaction:
                self._await_compensations(workflow, current, chain, now)
                return
            if current is not failed and step.error_behavior not in (None, WorkflowStep.COMPENSATE):
                self._apply(workflow, definition, current, step, step.error_behavior, now)
                return
            self._stop(current, ExecutionPointer.FAILED, now)
            if step.compensation_step_id is not None:
                current.status = ExecutionPointer.COMPENSATED
                self._add_compensation(workflow, definition, current, failed, step, chain)
            transaction = self._enclosing_transaction(workflow, definition, current)
            if transaction is not None and transaction.revert_children_after_compensation:
                self._revert_siblings(workflow, definition, current, failed, chain)
            if transaction is None or transaction.resume_children_after_compensation:
                self._follow_outcomes(
                    workflow, definition, current, step, None, now, after=chain[-1] if chain else None
                )
                return
            current = workflow.find_pointer(current.scope[0]) if current.scope else None

    def _await_compensations(
        self,
        workflow: WorkflowInstance,
        transaction: ExecutionPointer,
        chain: list[ExecutionPointer],
        now: datetime,
    ) -> None:
        """Keep the saga open until its compensations are done; what else still runs in it
        stops (a failed transaction does no more work)."""
        compensations = {pointer.id for pointer in chain}
        for pointer in workflow.execution_pointers:
            if (
                transaction.id in pointer.scope
                and pointer.end_time is None
                and pointer.id not in compensations
            ):
                self._stop(pointer, ExecutionPointer.CANCELLED, now)
        transaction.persistence_data = {_COMPENSATING: True}
        transaction.status = ExecutionPointer.FAILED
        transaction.sleep_until = None

    def finish_compensation(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        step: WorkflowStep,
        now: datetime,
    ) -> bool:
        """For a saga whose compensations are running: once all finished, apply its error
        behaviour. True when `pointer` is such a saga (its body must not run)."""
        data = pointer.persistence_data
        if not (isinstance(data, dict) and data.get(_COMPENSATING)):
            return False
        if any(pointer.id in other.scope and other.end_time is None for other in workflow.execution_pointers):
            return True
        pointer.persistence_data = None
        behavior = step.error_behavior
        if behavior not in (None, WorkflowStep.COMPENSATE):
            self._apply(workflow, definition, pointer, step, behavior, now)
            return True
        # The saga took the failure: its own compensation (if any) runs, then the flow goes
        # on after it; enclosing sagas are not affected.
        self._stop(pointer, ExecutionPointer.FAILED, now)
        chain: list[ExecutionPointer] = []
        if step.compensation_step_id is not None:
            pointer.status = ExecutionPointer.COMPENSATED
            self._add_compensation(workflow, definition, pointer, pointer, step, chain)
        self._follow_outcomes(
            workflow, definition, pointer, step, None, now, after=chain[-1] if chain else None
        )
        return True

    @staticmethod
    def _enclosing_transaction(
        workflow: WorkflowInstance, definition: WorkflowDefinition, pointer: ExecutionPointer
    ) -> WorkflowStep | None:
        """The nearest container that changes how its children are compensated (a saga)."""
        for pointer_id in pointer.scope:
            scope_pointer = workflow.find_pointer(pointer_id)
            if scope_pointer is None:
                continue
            scope_step = definition.steps[scope_pointer.step_id]
            if scope_step.is_transaction:
                return scope_step
        return None

    def _revert_siblings(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        pointer: ExecutionPointer,
        failed: ExecutionPointer,
        chain: list[ExecutionPointer],
    ) -> None:
        siblings = [
            sibling
            for sibling in workflow.execution_pointers
            if sibling.scope == pointer.scope
            and sibling.id != pointer.id
            and sibling.status == ExecutionPointer.COMPLETE
        ]
        siblings.sort(key=lambda sibling: sibling.end_time or MIN_TIME, reverse=True)
        for sibling in siblings:
            sibling_step = definition.steps[sibling.step_id]
            if sibling_step.compensation_step_id is not None:
                self._add_compensation(workflow, definition, sibling, failed, sibling_step, chain)
                sibling.status = ExecutionPointer.COMPENSATED

    @staticmethod
    def _add_compensation(
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        compensated: ExecutionPointer,
        failed: ExecutionPointer,
        step: WorkflowStep,
        chain: list[ExecutionPointer],
    ) -> None:
        """Append the pointer undoing `compensated` to `chain`; it runs once the previous one
        in the chain completed."""
        assert step.compensation_step_id is not None
        pointer = compensation_pointer(
            compensated, definition.steps[step.compensation_step_id], chain[-1] if chain else failed
        )
        if chain:
            pointer.active = False
            pointer.status = ExecutionPointer.PENDING_PREDECESSOR
        workflow.execution_pointers.append(pointer)
        chain.append(pointer)
