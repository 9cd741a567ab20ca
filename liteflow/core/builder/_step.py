"""`StepBuilder` and its kinds: the fluent calls that add steps after a step and set its options."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..callables import bind_arity
from ..definition import IOMapping, RetryPolicy, StepOutcome, WorkflowStep
from ..errors import InvalidArgumentError, WorkflowDefinitionError
from ..primitives import (
    Decide,
    Delay,
    EndWorkflow,
    Foreach,
    If,
    OutcomeSwitch,
    Parallel,
    Recur,
    Saga,
    Schedule,
    Sequence,
    SubWorkflow,
    WaitFor,
    WaitForAny,
    When,
    While,
)
from ..records import checked_event_name, event_key_text
from ..step import StepBody
from ._checks import check_behavior, check_body, interval, resolved_keys

if TYPE_CHECKING:
    from ._workflow import WorkflowBuilder

__all__ = ["ParallelStepBuilder", "StepBuilder", "WhenStepBuilder"]


class StepBuilder:
    """Configures one step and chains the next; returned by every builder call."""

    def __init__(self, workflow_builder: WorkflowBuilder, step: WorkflowStep) -> None:
        self.workflow_builder = workflow_builder
        self.step = step

    def _where(self, method: str) -> str:
        return f"{method} on step {self.step.id} ({self.step.display_name})"

    def _add_next(self, body: Any) -> StepBuilder:
        step = WorkflowStep(body)
        self.workflow_builder.add_step(step)
        self.step.outcomes.append(StepOutcome(step.id))
        return StepBuilder(self.workflow_builder, step)

    def _add_primitive(self, body: type[StepBody], **inputs: Any) -> StepBuilder:
        builder = self._add_next(body)
        for name, value in inputs.items():
            builder.step.inputs.append(IOMapping(name, value, 2))
        return builder

    def name(self, name: str) -> StepBuilder:
        """A readable name for logs and errors."""
        self.step.name = str(name)
        return self

    def then(self, body: type[StepBody] | Callable[..., Any]) -> StepBuilder:
        """Add the step that runs after this one completes."""
        check_body(body, self._where("then()"))
        return self._add_next(body)

    def input(self, property_name: str, value: Callable[..., Any] | Any) -> StepBuilder:
        """Set the step's `property_name` from ``value(data, context)`` before it runs."""
        if not isinstance(property_name, str) or not property_name.isidentifier():
            raise WorkflowDefinitionError(
                f"{self._where('input()')}: property name must be an identifier, got {property_name!r}"
            )
        self.step.inputs.append(IOMapping(property_name, value, 2))
        return self

    def output(self, property_name: str, value: Callable[..., Any]) -> StepBuilder:
        """Set the data's `property_name` (attribute or dict key) from ``value(step)``."""
        if not isinstance(property_name, str) or not property_name:
            raise WorkflowDefinitionError(
                f"{self._where('output()')}: property name must be a non-empty string, got {property_name!r}"
            )
        if not callable(value):
            raise WorkflowDefinitionError(
                f"{self._where('output()')}: value must be a callable taking the step, got {value!r}"
            )
        self.step.outputs.append(IOMapping(property_name, value, 2))
        return self

    def wait_for(
        self,
        event_name: str,
        event_key: Callable[..., Any] | Any,
        effective_date: Callable[..., datetime] | datetime | None = None,
        timeout: timedelta | float | None = None,
    ) -> StepBuilder:
        """Wait for the event (name, key); its data is `event_data` for `output`.

        With `timeout`, the step gives up after that long, with the outcome `WAIT_TIMEOUT`.
        """
        where = self._where("wait_for()")
        try:
            checked_event_name(event_name, where)
            if not callable(event_key):  # a key function's result is checked when the step runs
                event_key_text(event_key, f"{where}: the event key")
        except InvalidArgumentError as exc:
            raise WorkflowDefinitionError(str(exc)) from None
        return self._add_primitive(
            WaitFor,
            event_name=event_name,
            event_key=event_key,
            effective_date=effective_date,
            timeout=interval(timeout, "wait_for timeout"),
        )

    def wait_for_any(
        self,
        events: Iterable[tuple[str, Callable[..., Any] | Any]],
        effective_date: Callable[..., datetime] | datetime | None = None,
        timeout: timedelta | float | None = None,
    ) -> StepBuilder:
        """Wait for the first of several events, each (name, key or ``key(data, context)``):
        the step's outcome is the name of the one that came (branch on it with `when`), its
        data `event_data`. With `timeout`, the outcome is `WAIT_TIMEOUT` if none came in time.
        """
        where = self._where("wait_for_any()")
        given: object = events
        waits = list(events) if isinstance(given, (list, tuple)) else []
        if not waits or any(not isinstance(wait, tuple) or len(wait) != 2 for wait in waits):
            raise WorkflowDefinitionError(
                f"{where}: expected a list of (event name, key) pairs, got {events!r}"
            )
        try:
            for name, key in waits:
                checked_event_name(name, where)
                if not callable(key):
                    event_key_text(key, f"{where}: the key of {name!r}")
        except InvalidArgumentError as exc:
            raise WorkflowDefinitionError(str(exc)) from None
        return self._add_primitive(
            WaitForAny,
            events=resolved_keys(waits),
            effective_date=effective_date,
            timeout=interval(timeout, "wait_for_any timeout"),
        )

    def for_each(
        self, collection: Callable[..., Any] | Iterable[Any], run_parallel: bool = True
    ) -> StepBuilder:
        """Run the `do` block once per item of ``collection(data, context)`` (or of a fixed collection)."""
        if not callable(collection) and not isinstance(collection, Iterable):
            raise WorkflowDefinitionError(
                f"{self._where('for_each()')}: expected a callable returning the items, or a "
                f"collection, got {type(collection).__name__}"
            )
        return self._add_primitive(Foreach, collection=collection, run_parallel=bool(run_parallel))

    def while_(self, condition: Callable[..., Any]) -> StepBuilder:
        """Run the `do` block while ``condition(data, context)`` holds."""
        return self._add_primitive(While, condition=condition)

    def if_(self, condition: Callable[..., Any]) -> StepBuilder:
        """Run the `do` block once if ``condition(data, context)`` holds."""
        return self._add_primitive(If, condition=condition)

    def delay(self, period: Callable[..., Any] | timedelta | float) -> StepBuilder:
        """Pause for ``period(data, context)`` (a timedelta or seconds)."""
        return self._add_primitive(Delay, period=period)

    def schedule(self, interval: Callable[..., Any] | timedelta | float) -> StepBuilder:
        """Run the `do` block once, after ``interval(data, context)``."""
        return self._add_primitive(Schedule, interval=interval)

    def recur(
        self,
        interval: Callable[..., Any] | timedelta | float,
        until: Callable[..., Any],
    ) -> StepBuilder:
        """Run the `do` block every ``interval`` until ``until(data, context)`` holds."""
        return self._add_primitive(Recur, interval=interval, stop_condition=until)

    def do(self, block: Callable[[WorkflowBuilder], Any]) -> StepBuilder:
        """The steps this container runs: ``block`` receives a builder and calls `start_with`."""
        if not self.step.is_container:
            raise WorkflowDefinitionError(
                f"{self._where('do()')}: do() only follows for_each, while_, if_, schedule, recur, "
                "when or parallel"
            )
        self.step.children.append(self._build_block(block, "do()").id)
        return self

    def _build_block(self, block: Callable[[WorkflowBuilder], Any], method: str) -> WorkflowStep:
        """Run a user's block on a child builder; return the block's first step."""
        if not callable(block):
            raise WorkflowDefinitionError(f"{self._where(method)}: expected a callable, got {block!r}")
        child = self.workflow_builder.child()
        block(child)
        if child.first_step is None:
            raise WorkflowDefinitionError(f"{self._where(method)}: the block added no steps")
        child.first_step.parent_id = self.step.id
        return child.first_step

    def when(self, value: Any, label: str | None = None) -> WhenStepBuilder:
        """A block that runs when this step's outcome equals `value` (or ``value(data, context)``).

        Several `when`s may follow one step; all that match run, and the step chained after
        them with `then` runs once they have finished.
        """
        switch = self.step if self.step.body is OutcomeSwitch else self._outcome_switch()
        when = WorkflowStep(When)
        when.name = label
        self.workflow_builder.add_step(when)
        when.inputs.append(IOMapping("expected_outcome", value, 2))
        when.parent_id = switch.id
        switch.children.append(when.id)
        return WhenStepBuilder(self.workflow_builder, when, StepBuilder(self.workflow_builder, switch))

    def _outcome_switch(self) -> WorkflowStep:
        for outcome in self.step.outcomes:
            target = self.workflow_builder.steps[outcome.next_step]
            if target.body is OutcomeSwitch:
                return target
        return self._add_next(OutcomeSwitch).step

    def decide(self, expression: Callable[..., Any]) -> StepBuilder:
        """A step whose outcome is ``expression(data, context)``; follow it with `branch`."""
        return self._add_primitive(Decide, expression=expression)

    def branch(self, value: Any, branch: WorkflowBuilder | StepBuilder) -> StepBuilder:
        """Continue with `branch` when the outcome equals `value`; a branch is
        ``builder.create_branch()`` (or any step chained from it) after its `start_with`."""
        from ._workflow import WorkflowBuilder  # imported here: `_workflow` imports this module

        origin = branch.workflow_builder if isinstance(branch, StepBuilder) else branch
        if not isinstance(origin, WorkflowBuilder) or origin.first_step is None:
            raise WorkflowDefinitionError(
                f"{self._where('branch()')}: expected a branch from builder.create_branch() with "
                f"a start_with() step, got {branch!r}"
            )
        if origin.steps is not self.workflow_builder.steps:
            raise WorkflowDefinitionError(
                f"{self._where('branch()')}: the branch was created by another workflow's builder"
            )
        self.step.outcomes.append(StepOutcome(origin.first_step.id, value))
        return self

    def parallel(self) -> ParallelStepBuilder:
        """Branches added with `do` run at once; `join()` continues once all have finished."""
        step = self._add_next(Parallel).step
        return ParallelStepBuilder(self.workflow_builder, step)

    def join(self) -> StepBuilder:
        """Refused outside a `parallel()` block, whose branches it would wait for."""
        raise WorkflowDefinitionError(f"{self._where('join()')}: join() without parallel()")

    def saga(self, block: Callable[[WorkflowBuilder], Any]) -> StepBuilder:
        """Group steps into a transaction: when one fails, the completed ones are compensated
        (latest first) and the workflow continues after the saga."""
        builder = self._add_next(Saga)
        builder.step.resume_children_after_compensation = False
        builder.step.revert_children_after_compensation = True
        builder.step.children.append(builder._build_block(block, "saga()").id)
        return builder

    def compensate_with(self, body: type[StepBody] | Callable[..., Any]) -> StepBuilder:
        """The step that undoes this one if it, or its saga, fails."""
        check_body(body, self._where("compensate_with()"))
        compensation = WorkflowStep(body)
        self.workflow_builder.add_step(compensation)
        self._set_compensation(compensation)
        return self

    def compensate_with_sequence(self, block: Callable[[WorkflowBuilder], Any]) -> StepBuilder:
        """Several steps (built by ``block``) that undo this one, run in order."""
        sequence = WorkflowStep(Sequence)
        self.workflow_builder.add_step(sequence)
        sequence_builder = StepBuilder(self.workflow_builder, sequence)
        sequence.children.append(sequence_builder._build_block(block, "compensate_with_sequence()").id)
        self._set_compensation(sequence)
        return self

    def _set_compensation(self, compensation: WorkflowStep) -> None:
        if self.step.compensation_step_id is not None:
            raise WorkflowDefinitionError(f"{self._where('compensate_with()')}: compensation set twice")
        compensation.parent_id = self.step.id
        self.step.compensation_step_id = compensation.id

    def cancel_condition(
        self, condition: Callable[..., Any], proceed_after_cancel: bool = False
    ) -> StepBuilder:
        """Stop this step (and its children) once ``condition(data)`` holds; with
        `proceed_after_cancel`, the flow then moves on as if it had completed."""
        if not callable(condition):
            raise WorkflowDefinitionError(
                f"{self._where('cancel_condition()')}: expected a callable taking the data, got {condition!r}"
            )
        self.step.cancel_condition = bind_arity(condition, 1)
        self.step.proceed_on_cancel = bool(proceed_after_cancel)
        return self

    def end_workflow(self) -> StepBuilder:
        """Complete the workflow here, even inside a loop; no later step runs."""
        return self._add_next(EndWorkflow)

    def id(self, step_id: str) -> StepBuilder:
        """Name this step so `attach` can jump back to it."""
        if not isinstance(step_id, str) or not step_id:
            raise WorkflowDefinitionError(
                f"{self._where('id()')}: expected a non-empty string, got {step_id!r}"
            )
        self.step.external_id = step_id
        return self

    def attach(self, step_id: str) -> StepBuilder:
        """After this step, continue at the step named `step_id` (forms a loop)."""
        self.workflow_builder.attach_later(self.step, step_id)
        return self

    def sub_workflow(
        self,
        workflow_id: str,
        version: int | None = None,
        data: Callable[..., Any] | Any = None,
    ) -> StepBuilder:
        """Start a registered child workflow and wait for it; its final data is `child_data`
        for `output`. A child that is terminated fails this step."""
        if not isinstance(workflow_id, str) or not workflow_id:
            raise WorkflowDefinitionError(
                f"{self._where('sub_workflow()')}: expected a workflow id, got {workflow_id!r}"
            )
        return self._add_primitive(SubWorkflow, workflow_id=workflow_id, version=version, data=data)

    def on_error(
        self,
        behavior: int,
        retry_interval: timedelta | float | None = None,
        max_retries: int | None = None,
        backoff: float = 1.0,
        max_interval: timedelta | float | None = None,
        then: int | None = None,
    ) -> StepBuilder:
        """What happens when this step raises: RETRY (with a policy), SUSPEND, TERMINATE, COMPENSATE."""
        where = self._where("on_error()")
        self.step.error_behavior = check_behavior(behavior, where)
        if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
            raise WorkflowDefinitionError(f"{where}: max_retries must be a non-negative int")
        if not isinstance(backoff, (int, float)) or backoff < 1:
            raise WorkflowDefinitionError(f"{where}: backoff must be a number >= 1, got {backoff!r}")
        fallback = None if then is None else check_behavior(then, where)
        if fallback == WorkflowStep.RETRY:
            raise WorkflowDefinitionError(f"{where}: then= must be SUSPEND, TERMINATE or COMPENSATE")
        self.step.retry_policy = RetryPolicy(
            interval=interval(retry_interval, "retry_interval"),
            max_retries=max_retries,
            backoff=float(backoff),
            max_interval=interval(max_interval, "max_interval"),
            then=fallback,
        )
        return self


class WhenStepBuilder(StepBuilder):
    """A `when` block: `do` fills it and returns to the step the `when`s follow."""

    def __init__(self, workflow_builder: WorkflowBuilder, step: WorkflowStep, switch: StepBuilder) -> None:
        super().__init__(workflow_builder, step)
        self._switch = switch

    def do(self, block: Callable[[WorkflowBuilder], Any]) -> StepBuilder:
        super().do(block)
        return self._switch

    def then(self, body: type[StepBody] | Callable[..., Any]) -> StepBuilder:
        """A one-step block: ``when(v).then(X)`` runs X when the outcome equals v."""
        check_body(body, self._where("then()"))
        started: list[StepBuilder] = []
        super().do(lambda block: started.append(block.start_with(body)))
        return started[0]


class ParallelStepBuilder(StepBuilder):
    """A `parallel()` step: each `do` adds a branch; `join` continues after all of them."""

    def do(self, block: Callable[[WorkflowBuilder], Any]) -> ParallelStepBuilder:
        """Add a branch that runs side by side with the others."""
        branch = WorkflowStep(Sequence)
        self.workflow_builder.add_step(branch)
        branch.parent_id = self.step.id
        branch.children.append(StepBuilder(self.workflow_builder, branch)._build_block(block, "do()").id)
        self.step.children.append(branch.id)
        return self

    def join(self) -> StepBuilder:
        """Continue after the parallel block once every branch has finished."""
        if not self.step.children:
            raise WorkflowDefinitionError(f"{self._where('join()')}: parallel() has no do() branch")
        return StepBuilder(self.workflow_builder, self.step)
