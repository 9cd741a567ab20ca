"""What the builder's calls accept: step bodies, error behaviours, intervals, event keys."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..callables import bind_arity
from ..clock import to_timedelta
from ..definition import WorkflowStep
from ..errors import WorkflowDefinitionError
from ..step import StepBody

__all__ = ["check_behavior", "check_body", "interval", "resolved_keys"]

_ERROR_BEHAVIORS = {
    WorkflowStep.RETRY: "RETRY",
    WorkflowStep.SUSPEND: "SUSPEND",
    WorkflowStep.TERMINATE: "TERMINATE",
    WorkflowStep.COMPENSATE: "COMPENSATE",
}


def check_body(body: Any, where: str) -> None:
    """Refuse, naming the call, a step that is neither a StepBody subclass with `run` nor a callable."""
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


def check_behavior(behavior: Any, where: str) -> int:
    """The error behaviour as an int; anything but RETRY, SUSPEND, TERMINATE, COMPENSATE is refused."""
    if behavior not in _ERROR_BEHAVIORS or isinstance(behavior, bool):
        raise WorkflowDefinitionError(
            f"{where}: unknown error behaviour {behavior!r}; use WorkflowStep.RETRY, "
            "SUSPEND, TERMINATE or COMPENSATE"
        )
    return int(behavior)


def interval(value: timedelta | float | None, where: str) -> timedelta | None:
    """A non-negative timedelta from a timedelta or seconds (None stays None)."""
    if value is None:
        return None
    try:
        interval = to_timedelta(value, where)
    except TypeError as exc:
        raise WorkflowDefinitionError(str(exc)) from None
    if interval < timedelta(0):
        raise WorkflowDefinitionError(f"{where} must not be negative, got {value!r}")
    return interval


def resolved_keys(waits: list[tuple[str, Any]]) -> Callable[[Any, Any], list[tuple[str, Any]]]:
    """The input giving a `wait_for_any` step its (name, key) pairs, key functions called."""
    bound = [(name, bind_arity(key, 2) if callable(key) else key) for name, key in waits]

    def resolve(data: Any, context: Any) -> list[tuple[str, Any]]:
        return [(name, key(data, context) if callable(key) else key) for name, key in bound]

    return resolve
