"""Step and workflow middleware: plain callables and objects wrapped around the engine's work.

A step middleware is a callable ``(context, body, call_next) -> ExecutionResult | None``
around every run of every step (each retry included): ``call_next()`` runs the rest of the
chain and the step and returns its result, and what the middleware returns is the step's
result. A workflow middleware is an object with an optional ``pre_workflow(instance)``,
called by `start_workflow` before the new instance is stored (its error fails the start),
and an optional ``post_workflow(instance)``, called once the instance completed and was
stored (its error is logged and recorded, and does not reopen the workflow). Both kinds run
in registration order: the first registered is the outermost.

A step middleware may be ``async def`` (its ``call_next()`` returns an awaitable), or an
object with both forms: ``__call__`` and an ``async def call_async(context, body, call_next)``.
Each step runs through the form of each middleware that matches the code it wraps, so an
awaited chain stays on the event loop and a synchronous one on its thread; where the kinds
differ, the engine bridges them (a synchronous middleware around an awaited step runs on a
thread of its own, which waits while the step awaits; an ``async def`` one around a
synchronous step sends the step to a thread and the pass to the event loop).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from .callables import is_async_callable
from .errors import InvalidArgumentError
from .records import WorkflowInstance
from .step import ExecutionResult, StepBody, StepExecutionContext

if TYPE_CHECKING:
    from .event_loop import HostEventLoop

__all__ = ["AsyncStepMiddleware", "Middleware", "StepMiddleware", "SyncStepMiddleware", "WorkflowMiddleware"]

AsyncStepMiddleware: TypeAlias = Callable[
    [StepExecutionContext, StepBody, Callable[[], Awaitable["ExecutionResult | None"]]],
    Awaitable["ExecutionResult | None"],
]
SyncStepMiddleware: TypeAlias = Callable[
    [StepExecutionContext, StepBody, Callable[[], "ExecutionResult | None"]], "ExecutionResult | None"
]
StepMiddleware: TypeAlias = SyncStepMiddleware | AsyncStepMiddleware
_InstanceHook = Callable[[WorkflowInstance], Any]


class WorkflowMiddleware(Protocol):
    """Either method may be left out; see the module's docstring for when each runs."""

    def pre_workflow(self, instance: WorkflowInstance) -> None:
        """Called by `start_workflow` on the new instance before it is stored; raising fails
        the start and stores nothing."""

    def post_workflow(self, instance: WorkflowInstance) -> None:
        """Called once the instance completed and that was stored; an error is logged and
        recorded, and the workflow stays complete."""


class Middleware:
    """A host's installed middleware; swapped whole on change, so readers take no lock."""

    def __init__(self, step: Iterable[StepMiddleware] = (), workflow: Iterable[object] = ()) -> None:
        self.step: tuple[StepMiddleware, ...] = ()
        #: Whether an ``async def`` middleware (with no synchronous form) is installed: then
        #: every step runs in an awaited chain.
        self.awaits_every_step = False
        self.pre_workflow: tuple[_InstanceHook, ...] = ()
        self.post_workflow: tuple[tuple[object, _InstanceHook], ...] = ()
        for around_step in step:
            self.add_step(around_step)
        for around_workflow in workflow:
            self.add_workflow(around_workflow)

    def add_step(self, middleware: StepMiddleware, outermost: bool = False) -> None:
        """Install a step middleware, innermost unless `outermost`; one that is not callable raises
        `InvalidArgumentError`."""
        if not callable(middleware):
            raise InvalidArgumentError(
                f"a step middleware must be a callable (context, body, call_next), got {middleware!r}"
            )
        call_async = getattr(middleware, "call_async", None)
        if call_async is not None and not is_async_callable(call_async):
            raise InvalidArgumentError(
                f"the call_async of step middleware {middleware!r} must be an async def method"
            )
        # Flag first: a worker that sees the new middleware also sees that it must await it.
        self.awaits_every_step = self.awaits_every_step or _forms(middleware)[0] is None
        self.step = (middleware, *self.step) if outermost else (*self.step, middleware)

    def add_workflow(self, middleware: object) -> None:
        """Install a workflow middleware; one with neither `pre_workflow` nor `post_workflow`
        raises `InvalidArgumentError`."""
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

    def run_step(self, context: StepExecutionContext, body: StepBody) -> object:
        """The step's run, through every step middleware (all synchronous): its result, or an
        awaitable a synchronous function returned."""
        # Built inside out from partials: a closure calling itself would make a reference
        # cycle per step run, left for the cyclic garbage collector.
        call_next: Callable[[], Any] = partial(body.run, context)
        for middleware in reversed(self.step):
            call_next = partial(middleware, context, body, call_next)
        return call_next()

    def awaited_step(
        self, context: StepExecutionContext, body: StepBody, body_is_async: bool, loop: HostEventLoop
    ) -> Callable[[], Awaitable[ExecutionResult | None]]:
        """The step's run through every step middleware, as one awaitable chain for `loop`.

        Each middleware contributes the form matching what it wraps (its async form around
        awaited code, its synchronous form around synchronous code) when it has that form;
        otherwise the inner part is bridged: synchronous code goes to a step thread, and an
        awaited part called from synchronous code is awaited on the loop while the thread waits.
        """
        call: Callable[[], Any] = partial(body.run, context)
        awaited = body_is_async
        for middleware in reversed(self.step):
            sync_form, async_form = _forms(middleware)
            if async_form is not None and (awaited or sync_form is None):
                call = partial(async_form, context, body, call if awaited else loop.threaded(call))
                awaited = True
            else:
                assert sync_form is not None
                call = partial(sync_form, context, body, loop.blocking(call) if awaited else call)
                awaited = False
        return call if awaited else loop.threaded(call)


def _forms(middleware: StepMiddleware) -> tuple[Callable[..., Any] | None, Callable[..., Any] | None]:
    """A middleware's synchronous form and its async form (None for a form it lacks)."""
    call_async = getattr(middleware, "call_async", None)
    if call_async is not None:
        return middleware, call_async
    if is_async_callable(middleware):
        return None, middleware
    return middleware, None
