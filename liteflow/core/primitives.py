"""Built-in step bodies behind the builder's control flow (foreach, while, if, wait, delay...).

Their progress lives in plain dicts so any serializer can store it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from collections.abc import Sequence as SequenceOf
from datetime import datetime, timedelta
from typing import Any, cast

from .callables import bind_arity, describe
from .clock import MIN_TIME, to_timedelta
from .errors import LiteFlowError
from .records import Event, ExecutionPointer, WorkflowInstance
from .step import ExecutionResult, StepBody, StepExecutionContext

__all__ = [
    "ContainerStepBody",
    "Foreach",
    "While",
    "If",
    "Sequence",
    "WaitFor",
    "WaitForAny",
    "Delay",
    "Schedule",
    "Recur",
    "InlineStep",
    "AsyncInlineStep",
    "OutcomeSwitch",
    "When",
    "Decide",
    "Parallel",
    "Saga",
    "EndWorkflow",
    "SubWorkflow",
    "SubWorkflowError",
    "WAIT_TIMEOUT",
    "CHILD_COMPLETED_EVENT",
    "children_complete",
    "child_completion_event",
]

#: The outcome of a `wait_for(..., timeout=...)` whose event did not come in time.
WAIT_TIMEOUT = "liteflow.wait-timeout"
#: Internal event a finished child workflow publishes (keyed by its id) for its parent.
CHILD_COMPLETED_EVENT = "liteflow.child-completed"

_CHILDREN_ACTIVE = "children_active"


def children_complete(context: StepExecutionContext) -> bool:
    """True when every pointer started inside this container's scope has finished."""
    container_id = context.execution_pointer.id
    return all(
        pointer.end_time is not None
        for pointer in context.workflow.execution_pointers
        if container_id in pointer.scope
    )


def _children_active(context: StepExecutionContext) -> bool:
    data = context.persistence_data
    return isinstance(data, dict) and bool(data.get(_CHILDREN_ACTIVE))


class ContainerStepBody(StepBody):
    """A step whose children (the blocks given to `do`) run as branches under it."""

    @staticmethod
    def start_children(values: Iterable[Any]) -> ExecutionResult:
        """The result that starts the step's block once per value and marks its children active."""
        return ExecutionResult.branch(values, {_CHILDREN_ACTIVE: True})

    @staticmethod
    def wait_for_children(context: StepExecutionContext) -> ExecutionResult:
        """Finish once the children are done; until then stay put (the engine does not spin)."""
        if children_complete(context):
            return ExecutionResult.next()
        return ExecutionResult.persist(context.persistence_data)


class Sequence(ContainerStepBody):
    """Runs its block once, then proceeds."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if not _children_active(context):
            return self.start_children([None])
        return self.wait_for_children(context)


class Foreach(ContainerStepBody):
    """Runs its block once per item: all at once, or one after another in collection order."""

    collection: Iterable[Any] | None = ()
    run_parallel: bool = True

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if self.run_parallel:
            if not _children_active(context):
                items = self._items()
                return self.start_children(items) if items else ExecutionResult.next()
            return self.wait_for_children(context)
        data = context.persistence_data
        index = data.get("index", 0) if isinstance(data, dict) else 0
        if isinstance(data, dict) and not children_complete(context):
            return ExecutionResult.persist(data)
        items = self._items()
        if index >= len(items):
            return ExecutionResult.next()
        return ExecutionResult.branch([items[index]], {_CHILDREN_ACTIVE: True, "index": index + 1})

    def _items(self) -> SequenceOf[Any]:
        """A sequence as it is: a loop over 100,000 items must not copy them at every step."""
        collection = self.collection
        if collection is None:
            return ()
        return collection if isinstance(collection, SequenceOf) else list(collection)


class While(ContainerStepBody):
    """Runs its block again and again while the condition holds (checked before each pass)."""

    condition: Any = False

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if not _children_active(context):
            if self.condition:
                return self.start_children([None])
            return ExecutionResult.next()
        if children_complete(context):
            return ExecutionResult.persist(None)
        return ExecutionResult.persist(context.persistence_data)


class If(ContainerStepBody):
    """Runs its block once if the condition holds, then proceeds either way."""

    condition: Any = False

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if not _children_active(context):
            if self.condition:
                return self.start_children([None])
            return ExecutionResult.next()
        return self.wait_for_children(context)


class WaitFor(StepBody):
    """Waits for an external event; its data becomes `event_data` for outputs.

    With a `timeout`, the step ends without the event once it passes, with the outcome
    `WAIT_TIMEOUT` (and `event_data` None), so the flow can branch on it with `when`.
    """

    TIMEOUT = WAIT_TIMEOUT

    event_name: str = ""
    event_key: Any = None
    effective_date: datetime | None = None
    timeout: timedelta | float | None = None

    def __init__(self) -> None:
        self.event_data: Any = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        pointer = context.execution_pointer
        if pointer.event_published:
            self.event_data = pointer.event_data
            return self._arrived(pointer)
        if context.persistence_data is not None:
            return ExecutionResult.outcome(WAIT_TIMEOUT)
        # Without an effective date, the wait takes events from the time of this pass on.
        result = self._wait()
        if self.timeout is not None:
            result.sleep_for = to_timedelta(self.timeout, "wait_for timeout")
            result.persistence_data = {"timeout": True}
        return result

    def _arrived(self, pointer: ExecutionPointer) -> ExecutionResult:
        return ExecutionResult.next()

    def _wait(self) -> ExecutionResult:
        return ExecutionResult.wait_for_event(self.event_name, self.event_key, self.effective_date)


class WaitForAny(WaitFor):
    """Waits for the first of several events: its outcome is that event's name (so `when`
    branches on it) and `event_data` its data. Events for the others that come later find
    the step done and wake nothing. With a `timeout`, the outcome is `WAIT_TIMEOUT`."""

    #: (event name, key) pairs.
    events: list[tuple[str, Any]] = []

    def _arrived(self, pointer: ExecutionPointer) -> ExecutionResult:
        return ExecutionResult.outcome(pointer.event_name)

    def _wait(self) -> ExecutionResult:
        return ExecutionResult.wait_for_any_event(self.events, self.effective_date)


class Delay(StepBody):
    """Sleeps for `period` (a timedelta or seconds), then proceeds."""

    period: timedelta | float = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if context.persistence_data is not None:
            return ExecutionResult.next()
        return ExecutionResult.sleep(to_timedelta(self.period, "delay period"), {"slept": True})


class Schedule(ContainerStepBody):
    """Waits `interval`, then runs its block once, then proceeds."""

    interval: timedelta | float = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = context.persistence_data
        if data is None:
            return ExecutionResult.sleep(to_timedelta(self.interval, "schedule interval"), {"elapsed": False})
        if isinstance(data, dict) and not data.get("elapsed", True):
            return self.start_children([None])
        return self.wait_for_children(context)


class Recur(ContainerStepBody):
    """Runs its block every `interval` until `stop_condition` holds."""

    interval: timedelta | float = 0
    stop_condition: Any = False

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if self.stop_condition:
            return ExecutionResult.next()
        result = self.start_children([None])
        result.sleep_for = to_timedelta(self.interval, "recur interval")
        return result


class InlineStep(StepBody):
    """Runs a plain function given to the builder (`then(lambda context: ...)`); an awaitable
    it returns is awaited by the engine."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = bind_arity(fn, 1)
        self._name = describe(fn)

    def run(
        self, context: StepExecutionContext
    ) -> ExecutionResult | Awaitable[ExecutionResult | None] | None:
        result = self._fn(context)
        if hasattr(result, "__await__"):
            return cast("Awaitable[ExecutionResult | None]", result)
        return self._checked(result)

    def _checked(self, result: object) -> ExecutionResult | None:
        if result is None or isinstance(result, ExecutionResult):
            return result
        raise TypeError(
            f"inline step {self._name} returned {type(result).__name__}; return an ExecutionResult or None"
        )


class AsyncInlineStep(InlineStep):
    """Awaits an ``async def`` function given to the builder."""

    async def run(self, context: StepExecutionContext) -> ExecutionResult | None:
        return self._checked(await self._fn(context))


class OutcomeSwitch(ContainerStepBody):
    """Groups the `when` blocks after a step; each sees the outcome of that step."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        previous = context.workflow.find_pointer(context.execution_pointer.predecessor_id or "")
        outcome = previous.outcome if previous is not None else None
        result = (
            self.start_children([None]) if not _children_active(context) else self.wait_for_children(context)
        )
        if not result.proceed:
            result.outcome_value = outcome
        return result


class When(ContainerStepBody):
    """Runs its block when the preceding step's outcome equals `expected_outcome`."""

    expected_outcome: Any = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if _children_active(context):
            return self.wait_for_children(context)
        switch = context.workflow.find_pointer(context.execution_pointer.predecessor_id or "")
        outcome = switch.outcome if switch is not None else None
        if outcome == self.expected_outcome or str(outcome) == str(self.expected_outcome):
            return self.start_children([None])
        return ExecutionResult.next()


class Decide(StepBody):
    """Completes with `expression` as its outcome; `branch(value, ...)` edges pick the path."""

    expression: Any = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.outcome(self.expression)


class Parallel(Sequence):
    """Runs each `do` branch at once; `join` continues once all have finished."""


class Saga(Sequence):
    """A transaction: if a step inside fails, the completed steps are compensated."""


class EndWorkflow(StepBody):
    """Completes the whole workflow at once; no later step runs."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        context.workflow.status = WorkflowInstance.COMPLETE
        return ExecutionResult.next()


class SubWorkflowError(LiteFlowError):
    """A child workflow started by `sub_workflow` was terminated."""


class SubWorkflow(StepBody):
    """Starts a child workflow and waits for it; its final data is `child_data`."""

    workflow_id: str = ""
    version: int | None = None
    data: Any = None

    def __init__(self) -> None:
        self.child_data: Any = None
        self.event_data: Any = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        pointer = context.execution_pointer
        if pointer.event_published:
            report = pointer.event_data if isinstance(pointer.event_data, dict) else {}
            child = (
                context.persistence_data.get("child") if isinstance(context.persistence_data, dict) else None
            )
            if report.get("status") != WorkflowInstance.COMPLETE:
                raise SubWorkflowError(f"child workflow {self.workflow_id} ({child}) was terminated")
            self.child_data = self.event_data = report.get("data")
            return ExecutionResult.next()
        if context.host is None:
            raise LiteFlowError("sub_workflow steps need a host to start the child workflow")
        child_id = context.host.start_workflow(
            self.workflow_id, self.version, self.data, parent_workflow_id=context.workflow.id
        )
        result = ExecutionResult.wait_for_event(CHILD_COMPLETED_EVENT, child_id, MIN_TIME)
        result.persistence_data = {"child": child_id}
        return result


def child_completion_event(workflow: WorkflowInstance, now: datetime) -> Event | None:
    """The event telling a parent that this child finished, if it has a parent and finished;
    it is written with the child's final state, in the same atomic write."""
    if workflow.parent_workflow_id is None or workflow.status not in (
        WorkflowInstance.COMPLETE,
        WorkflowInstance.TERMINATED,
    ):
        return None
    event = Event()
    event.event_name = CHILD_COMPLETED_EVENT
    event.event_key = workflow.id
    event.event_data = {"status": workflow.status, "data": workflow.data}
    event.event_time = now
    return event
