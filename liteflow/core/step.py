"""What a step is: its body, the context it runs in, and the result it returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .clock import to_timedelta, to_utc
from .errors import InvalidArgumentError
from .records import checked_event_name, event_key_text

if TYPE_CHECKING:
    from .definition import WorkflowStep
    from .host import WorkflowHost
    from .records import ExecutionPointer, WorkflowInstance

__all__ = ["StepBody", "StepExecutionContext", "ExecutionResult"]


class ExecutionResult:
    """Tells the engine what to do after a step ran: proceed, sleep, wait, branch or persist."""

    __slots__ = (
        "branch_values",
        "event_as_of",
        "event_key",
        "event_name",
        "other_events",
        "outcome_value",
        "persistence_data",
        "proceed",
        "sleep_for",
    )

    def __init__(self) -> None:
        self.proceed: bool = False
        self.outcome_value: Any = None
        self.sleep_for: timedelta | None = None
        self.persistence_data: Any = None
        self.event_name: str | None = None
        self.event_key: Any = None
        self.event_as_of: datetime | None = None
        #: Further (name, key) events that end the wait too (`wait_for_any_event`).
        self.other_events: list[tuple[str, str | None]] = []
        self.branch_values: list[Any] = []

    @staticmethod
    def next() -> ExecutionResult:
        """Complete the step and move on to the next one."""
        result = ExecutionResult()
        result.proceed = True
        return result

    @staticmethod
    def outcome(value: Any) -> ExecutionResult:
        """Complete the step with an outcome value that `when`/`branch` blocks can match."""
        result = ExecutionResult()
        result.proceed = True
        result.outcome_value = value
        return result

    @staticmethod
    def persist(data: Any) -> ExecutionResult:
        """Stay on this step; it runs again later with `data` as its persistence data."""
        result = ExecutionResult()
        result.persistence_data = data
        return result

    @staticmethod
    def sleep(duration: timedelta | float, data: Any = None) -> ExecutionResult:
        """Run this step again after `duration` (a timedelta or seconds) with `data`."""
        result = ExecutionResult()
        result.sleep_for = to_timedelta(duration, "sleep duration")
        result.persistence_data = data
        return result

    @staticmethod
    def wait_for_event(
        event_name: str, event_key: Any, effective_date: datetime | None = None
    ) -> ExecutionResult:
        """Suspend this step until an event (name, key) published at or after `effective_date`.

        The key is a str, int or UUID (compared as text); anything else raises
        `InvalidArgumentError` here, in the step that asked for it.
        """
        result = ExecutionResult()
        result.event_name = checked_event_name(event_name, "wait_for_event()")
        result.event_key = event_key_text(event_key)
        result.event_as_of = None if effective_date is None else to_utc(effective_date)
        return result

    @staticmethod
    def wait_for_any_event(
        events: Iterable[tuple[str, Any]], effective_date: datetime | None = None
    ) -> ExecutionResult:
        """Suspend this step until the first of several events (name, key) arrives; the
        pointer's `event_name` then says which one it was."""
        where = "wait_for_any_event()"
        waits = [(checked_event_name(name, where), event_key_text(key)) for name, key in events]
        if not waits:
            raise InvalidArgumentError(f"{where} needs at least one (event name, key)")
        result = ExecutionResult.wait_for_event(*waits[0], effective_date)
        result.other_events = waits[1:]
        return result

    @staticmethod
    def branch(values: Iterable[Any], data: Any = None) -> ExecutionResult:
        """Start the step's children once per value (the value becomes their context item)."""
        result = ExecutionResult()
        result.branch_values = list(values)
        result.persistence_data = data
        return result

    def __repr__(self) -> str:
        return (
            f"ExecutionResult(proceed={self.proceed}, outcome={self.outcome_value!r}, "
            f"sleep_for={self.sleep_for}, event={self.event_name!r}/{self.event_key!r}, "
            f"branches={len(self.branch_values)})"
        )


class StepExecutionContext:
    """What a running step can see: the workflow instance, its step definition and pointer."""

    __slots__ = ("execution_pointer", "host", "persistence_data", "step", "workflow")

    def __init__(
        self,
        workflow: WorkflowInstance,
        step: WorkflowStep,
        persistence_data: Any,
        execution_pointer: ExecutionPointer,
        host: WorkflowHost | None = None,
    ) -> None:
        self.workflow = workflow
        self.step = step
        self.persistence_data = persistence_data
        self.execution_pointer = execution_pointer
        #: The host running the step: lets a step publish events or start workflows.
        self.host = host

    @property
    def item(self) -> Any:
        """The current foreach item (inherited by steps nested in containers)."""
        return self.execution_pointer.context_item


class StepBody(ABC):
    """Base class of step bodies; `run` returning None means ``ExecutionResult.next()``.

    `run` may be ``async def``: the host awaits it on its event loop, where many steps wait
    at once without a thread each (see `liteflow.core.loop_passes`).
    """

    @abstractmethod
    def run(
        self, context: StepExecutionContext
    ) -> ExecutionResult | Awaitable[ExecutionResult | None] | None:
        """Do the step's work; the result (None means next) decides what the workflow does next."""
        raise NotImplementedError
