"""A registered workflow, compiled: its steps, their wiring, inputs, outputs and error rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .callables import bind_arity, describe, is_async_callable
from .errors import WorkflowDefinitionError
from .flow_limits import FlowLimits
from .primitives import AsyncInlineStep, ContainerStepBody, InlineStep
from .records import ExecutionPointer, WorkflowInstance
from .step import StepBody, StepExecutionContext

__all__ = ["WorkflowDefinition", "WorkflowStep", "StepOutcome", "IOMapping", "RetryPolicy"]


class IOMapping:
    """Maps workflow data into a step property (input) or a step result into data (output)."""

    __slots__ = ("_call", "property", "value")

    def __init__(self, property_name: str, value: Any, offered: int) -> None:
        self.property = property_name
        self.value = value
        self._call: Callable[..., Any] = (
            bind_arity(value, offered) if callable(value) else (lambda *_args: value)
        )

    def apply_input(self, body: object, data: Any, context: StepExecutionContext) -> None:
        """Set the step body's attribute from the workflow data before the step runs."""
        setattr(body, self.property, self._call(data, context))

    def apply_output(self, body: object, workflow: WorkflowInstance) -> None:
        """Copy a value from the finished step body into the workflow data (a key of a dict, else
        an attribute)."""
        value = self._call(body, workflow.data)
        data = workflow.data
        if isinstance(data, dict):
            data[self.property] = value
        elif data is None:
            raise TypeError(
                f"cannot set output '{self.property}': the workflow's data is None "
                "(pass a data object or dict to start_workflow)"
            )
        else:
            setattr(data, self.property, value)


class StepOutcome:
    """An edge to the next step, taken when the step's outcome matches `value` (None matches all).

    A `jump` (made by ``attach``) may lead out of the blocks its step is in: taking it leaves
    them, so the steps after those blocks do not run for it.
    """

    __slots__ = ("jump", "label", "next_step", "value")

    _ANY = object()

    def __init__(
        self, next_step: int, value: Any = _ANY, label: str | None = None, jump: bool = False
    ) -> None:
        self.next_step = next_step
        self.value = value
        self.label = label
        self.jump = jump

    def matches(self, outcome_value: Any) -> bool:
        """Whether a step that completed with `outcome_value` leads along this edge."""
        return self.value is StepOutcome._ANY or self.value == outcome_value


class RetryPolicy:
    """How a failing step is retried: interval, backoff, cap, and what to do after the last try."""

    __slots__ = ("backoff", "interval", "max_interval", "max_retries", "then")

    def __init__(
        self,
        interval: timedelta | None = None,
        max_retries: int | None = None,
        backoff: float = 1.0,
        max_interval: timedelta | None = None,
        then: int | None = None,
    ) -> None:
        self.interval = interval
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_interval = max_interval
        self.then = then

    def delay_for(self, attempt: int, default_interval: timedelta) -> timedelta:
        """The wait before retry number `attempt` (1-based)."""
        base = self.interval if self.interval is not None else default_interval
        delay = base * (self.backoff ** (attempt - 1))
        if self.max_interval is not None and delay > self.max_interval:
            return self.max_interval
        return delay


class WorkflowStep:
    """One step of a definition: what runs, what feeds it, where it leads, how it fails."""

    RETRY = 0
    SUSPEND = 1
    TERMINATE = 2
    COMPENSATE = 3

    def __init__(self, body: Any) -> None:
        self.id: int = -1
        self.body = body
        self.name: str | None = None
        self.external_id: str | None = None
        self.error_behavior: int | None = None
        self.retry_policy: RetryPolicy | None = None
        self.outcomes: list[StepOutcome] = []
        self.children: list[int] = []
        self.inputs: list[IOMapping] = []
        self.outputs: list[IOMapping] = []
        self.compensation_step_id: int | None = None
        self.cancel_condition: Callable[..., Any] | None = None
        self.proceed_on_cancel: bool = False
        self.resume_children_after_compensation: bool = True
        self.revert_children_after_compensation: bool = False
        self.parent_id: int | None = None
        #: The container step whose block this step is in (None: the workflow's own chain).
        self.block_id: int | None = None
        #: Whether this step undoes another (or is inside a compensation sequence).
        self.is_compensation: bool = False
        #: Whether its run is ``async def``: the host awaits it on its event loop.
        self.is_async = is_async_callable(getattr(body, "run", None) if isinstance(body, type) else body)

    @property
    def display_name(self) -> str:
        """The step's name for people: the one given with `name()` or `id()`, else its class's or
        function's name."""
        return self.name or describe(self.body)

    @property
    def is_container(self) -> bool:
        """Whether the step runs blocks of children (loops, conditions, sagas, parallel branches)."""
        return isinstance(self.body, type) and issubclass(self.body, ContainerStepBody)

    @property
    def is_transaction(self) -> bool:
        """A container that changes how its children are compensated (a saga)."""
        return not self.resume_children_after_compensation or self.revert_children_after_compensation

    def construct_body(self) -> StepBody:
        """A fresh body to run: an instance of the step's class, or a wrapper around its function."""
        body = self.body
        if isinstance(body, type):
            instance: StepBody = body()
            return instance
        return AsyncInlineStep(body) if self.is_async else InlineStep(body)

    def prime_for_retry(self, pointer: ExecutionPointer) -> None:
        """Containers forget their progress so a retry starts their children afresh."""
        if self.is_container:
            pointer.persistence_data = None

    def __repr__(self) -> str:
        return f"WorkflowStep(id={self.id}, name={self.display_name!r})"


class WorkflowDefinition:
    """The compiled form of a registered `Workflow`."""

    def __init__(
        self,
        workflow_id: str,
        version: int,
        steps: list[WorkflowStep],
        default_error_behavior: int = WorkflowStep.RETRY,
        default_error_retry_interval: timedelta | None = None,
        data_type: type | None = None,
        description: str | None = None,
        initial_step_id: int = 0,
    ) -> None:
        self.id = workflow_id
        self.version = version
        self.steps = steps
        self.initial_step_id = initial_step_id
        self.default_error_behavior = default_error_behavior
        self.default_error_retry_interval = default_error_retry_interval
        self.data_type = data_type
        self.description = description
        #: How many instances may run at once, and how often (set at registration).
        self.limits = FlowLimits()
        _assign_blocks(steps, initial_step_id)

    @property
    def initial_step(self) -> WorkflowStep:
        """The step a new instance starts with."""
        return self.steps[self.initial_step_id]

    def find_step(self, step_id: int) -> WorkflowStep | None:
        """The step with that id, or None when the definition has no such step (a stored pointer
        from another version)."""
        if 0 <= step_id < len(self.steps):
            return self.steps[step_id]
        return None

    def __repr__(self) -> str:
        return f"WorkflowDefinition(id={self.id!r}, version={self.version}, steps={len(self.steps)})"


def _assign_blocks(steps: list[WorkflowStep], initial_step_id: int) -> None:
    """Set each step's `block_id` and `is_compensation`, and check that every jump leads to
    a step of its own block or of one around it (a jump cannot enter a block from outside)."""
    seen: set[int] = set()
    pending: list[tuple[int, int | None, bool]] = [(initial_step_id, None, False)]
    while pending:
        step_id, block_id, compensation = pending.pop()
        if step_id in seen:
            continue
        seen.add(step_id)
        step = steps[step_id]
        step.block_id = block_id
        step.is_compensation = compensation
        pending += [(o.next_step, block_id, compensation) for o in step.outcomes if not o.jump]
        pending += [(child_id, step.id, compensation) for child_id in step.children]
        if step.compensation_step_id is not None:
            pending.append((step.compensation_step_id, block_id, True))
    for step in steps:
        for outcome in step.outcomes:
            if outcome.jump and steps[outcome.next_step].block_id not in _enclosing_blocks(steps, step):
                raise WorkflowDefinitionError(
                    f"attach() on step {step.id} ({step.display_name}) jumps into a block that step "
                    f"{outcome.next_step} ({steps[outcome.next_step].display_name}) is in; a jump can "
                    "only lead to a step of its own block or of a block around it"
                )


def _enclosing_blocks(steps: list[WorkflowStep], step: WorkflowStep) -> list[int | None]:
    blocks: list[int | None] = [step.block_id]
    while blocks[-1] is not None:
        blocks.append(steps[blocks[-1]].block_id)
    return blocks
