"""Step and workflow middleware: plain callables and objects wrapped around the engine's work.

A step middleware is a callable ``(context, body, call_next) -> ExecutionResult | None``
around every run of every step (each retry included): ``call_next()`` runs the rest of the
chain and the step and returns its result, and what the middleware returns is the step's
result. A workflow middleware is an object with an optional ``pre_workflow(instance)``,
called by `start_workflow` before the new instance is stored (its error fails the start),
and an optional ``post_workflow(instance)``, called once the instance completed and was
stored (its error is logged and recorded, and does not reopen the workflow). Both kinds run
in registration order: the first registered is the outermost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Protocol

from .errors import InvalidArgumentError
from .records import WorkflowInstance
from .step import ExecutionResult, StepBody, StepExecutionContext

__all__ = ["Middleware", "StepMiddleware", "WorkflowMiddleware"]

StepMiddleware = Callable[
    [StepExecutionContext, StepBody, Callable[[], "ExecutionResult | None"]], "ExecutionResult | None"
]
_InstanceHook = Callable[[WorkflowInstance], Any]


class WorkflowMiddleware(Protocol):
    """Either method may be left out; see the module's docstring for when each runs."""

    def pre_workflow(self, instance: WorkflowInstance) -> None: ...

    def post_workflow(self, instance: WorkflowInstance) -> None: ...


class Middleware:
    """A host's installed middleware; swapped whole on change, so readers take no lock."""

    def __init__(self, step: Iterable[StepMiddleware] = (), workflow: Iterable[object] = ()) -> None:
        self.step: tuple[StepMiddleware, ...] = ()
        self.pre_workflow: tuple[_InstanceHook, ...] = ()
        self.post_workflow: tuple[tuple[object, _InstanceHook], ...] = ()
        for around_step in step:
            self.add_step(around_step)
        for around_workflow in workflow:
            self.add_workflow(around_workflow)

    def add_step(self, middleware: StepMiddleware, outermost: bool = False) -> None:
        if not callable(middleware):
            raise InvalidArgumentError(
                f"a step middleware must be a callable (context, body, call_next), got {middleware!r}"
            )
        self.step = (middleware, *self.step) if outermost else (*self.step, middleware)

    def add_workflow(self, middleware: object) -> None:
        pre = getattr(middleware, "pre_workflow", None)
        post = getattr(middleware, "post_workflow", None)
        if not callable(pre) and not callable(post):
            raise InvalidArgumentError(
                f"a workflow middleware needs a pre_workflow or post_workflow method, got {middleware!r}"
            )
        if callable(pre):
            self.pre_workflow = (*self.pre_workflow, pre)
        if callable(post):
            self.post_workflow = (*self.post_workflow, (middleware, post))

    def run_step(self, context: StepExecutionContext, body: StepBody) -> ExecutionResult | None:
        """The step's run, through every step middleware."""
        # Built inside out from partials: a closure calling itself would make a reference
        # cycle per step run, left for the cyclic garbage collector.
        call_next: Callable[[], ExecutionResult | None] = partial(body.run, context)
        for middleware in reversed(self.step):
            call_next = partial(middleware, context, body, call_next)
        return call_next()
