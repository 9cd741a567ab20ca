"""The fluent builder a workflow's `build` method uses to compose its steps."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .clock import to_timedelta
from .definition import IOMapping, RetryPolicy, StepOutcome, WorkflowDefinition, WorkflowStep
from .errors import WorkflowDefinitionError
from .primitives import Delay, Foreach, If, Recur, Schedule, WaitFor, While
from .step import StepBody

__all__ = ["WorkflowBuilder", "StepBuilder"]

_ERROR_BEHAVIORS = {
    WorkflowStep.RETRY: "RETRY",
    WorkflowStep.SUSPEND: "SUSPEND",
    WorkflowStep.TERMINATE: "TERMINATE",
    WorkflowStep.COMPENSATE: "COMPENSATE",
}


def _check_body(body: Any, where: str) -> None:
    if isinstance(body, type):
        if not issubclass(body, StepBody):
            raise WorkflowDefinitionError(
                f"{where}: {body.__qualname__} is a class but not a StepBody subclass"
            )
        if inspect.isabstract(body):
            raise WorkflowDefinitionError(f"{where}: {body.__qualname__} does not implement run()")
        return
    if not callable(body):
        raise WorkflowDefinitionError(
            f"{where}: a step must be a StepBody subclass or a callable, got {type(body).__name__} {body!r}"
        )


def _check_behavior(behavior: Any, where: str) -> int:
    if behavior not in _ERROR_BEHAVIORS or isinstance(behavior, bool):
        raise WorkflowDefinitionError(
            f"{where}: unknown error behaviour {behavior!r}; use WorkflowStep.RETRY, "
            "SUSPEND, TERMINATE or COMPENSATE"
        )
    return int(behavior)


def _interval(value: timedelta | float | None, where: str) -> timedelta | None:
    if value is None:
        return None
    try:
        interval = to_timedelta(value, where)
    except TypeError as exc:
        raise WorkflowDefinitionError(str(exc)) from None
    if interval < timedelta(0):
        raise WorkflowDefinitionError(f"{where} must not be negative, got {value!r}")
    return interval


class WorkflowBuilder:
    """Collects the steps of one workflow; `do` blocks get a builder sharing the same steps."""

    def __init__(self, steps: list[WorkflowStep] | None = None) -> None:
        self._steps: list[WorkflowStep] = steps if steps is not None else []
        self._first: WorkflowStep | None = None
        self.default_error_behavior: int = WorkflowStep.RETRY
        self.default_error_retry_interval: timedelta | None = None

    @property
    def steps(self) -> list[WorkflowStep]:
        return self._steps

    @property
    def first_step(self) -> WorkflowStep | None:
        """The step added by this builder's `start_with`, if any."""
        return self._first

    def add_step(self, step: WorkflowStep) -> None:
        step.id = len(self._steps)
        self._steps.append(step)

    def start_with(self, body: type[StepBody] | Callable[..., Any]) -> StepBuilder:
        """Add the first step of this workflow (or of this `do` block)."""
        if self._first is not None:
            raise WorkflowDefinitionError(
                "start_with() called twice on the same builder; chain further steps with then()"
            )
        _check_body(body, "start_with()")
        step = WorkflowStep(body)
        self.add_step(step)
        self._first = step
        return StepBuilder(self, step)

    def then(self, body: Any) -> StepBuilder:
        raise WorkflowDefinitionError(
            "then() called before start_with(): the first step is added with start_with()"
        )

    def use_default_error_behavior(
        self, behavior: int, retry_interval: timedelta | float | None = None
    ) -> WorkflowBuilder:
        """Error behaviour for steps that do not set their own with `on_error`."""
        self.default_error_behavior = _check_behavior(behavior, "use_default_error_behavior()")
        self.default_error_retry_interval = _interval(retry_interval, "retry_interval")
        return self

    def child(self) -> WorkflowBuilder:
        """A builder for a `do` block: same step list, its own first step."""
        return WorkflowBuilder(self._steps)

    def build(self, workflow_id: str, version: int) -> WorkflowDefinition:
        if not self._steps:
            raise WorkflowDefinitionError("build() added no steps; call builder.start_with(...)")
        for step in self._steps:
            if step.is_container and not step.children:
                raise WorkflowDefinitionError(f"step {step.id} ({step.display_name}) has no do() block")
        return WorkflowDefinition(
            workflow_id,
            version,
            list(self._steps),
            default_error_behavior=self.default_error_behavior,
            default_error_retry_interval=self.default_error_retry_interval,
        )


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
        _check_body(body, self._where("then()"))
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
    ) -> StepBuilder:
        """Wait for the event (name, key); its data is `event_data` for `output`."""
        if not isinstance(event_name, str) or not event_name:
            raise WorkflowDefinitionError(
                f"{self._where('wait_for()')}: event name must be a non-empty string, got {event_name!r}"
            )
        return self._add_primitive(
            WaitFor, event_name=event_name, event_key=event_key, effective_date=effective_date
        )

    def for_each(self, collection: Callable[..., Any], run_parallel: bool = True) -> StepBuilder:
        """Run the `do` block once per item of ``collection(data, context)``."""
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
                f"{self._where('do()')}: do() only follows for_each, while_, if_, schedule or recur"
            )
        if not callable(block):
            raise WorkflowDefinitionError(f"{self._where('do()')}: expected a callable, got {block!r}")
        child = self.workflow_builder.child()
        block(child)
        if child.first_step is None:
            raise WorkflowDefinitionError(f"{self._where('do()')}: the block added no steps")
        child.first_step.parent_id = self.step.id
        self.step.children.append(child.first_step.id)
        return self

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
        self.step.error_behavior = _check_behavior(behavior, where)
        if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
            raise WorkflowDefinitionError(f"{where}: max_retries must be a non-negative int")
        if not isinstance(backoff, (int, float)) or backoff < 1:
            raise WorkflowDefinitionError(f"{where}: backoff must be a number >= 1, got {backoff!r}")
        fallback = None if then is None else _check_behavior(then, where)
        if fallback == WorkflowStep.RETRY:
            raise WorkflowDefinitionError(f"{where}: then= must be SUSPEND, TERMINATE or COMPENSATE")
        self.step.retry_policy = RetryPolicy(
            interval=_interval(retry_interval, "retry_interval"),
            max_retries=max_retries,
            backoff=float(backoff),
            max_interval=_interval(max_interval, "max_interval"),
            then=fallback,
        )
        return self
