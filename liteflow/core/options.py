"""Host settings, given to `configure_workflow_host` as keywords."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

from .clock import Clock, SystemClock, to_timedelta
from .errors import InvalidArgumentError
from .lifecycle_hub import InProcessLifecycleEventHub, LifecycleEventHub
from .middleware import Middleware, StepMiddleware

__all__ = ["HostOptions"]


_INSTANCE_OF: dict[str, type] = {
    "logger": logging.Logger,
    "clock": Clock,
    "lifecycle_event_hub": LifecycleEventHub,
}


def _middleware_list(name: str, value: Any) -> tuple[Any, ...]:
    """A tuple of valid middleware, else an InvalidArgumentError naming the bad one."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InvalidArgumentError(f"{name} must be a list, got {value!r}")
    items = tuple(value)
    if name == "step_middleware":
        Middleware(step=items)
    else:
        Middleware(workflow=items)
    return items


@dataclass
class HostOptions:
    """How a host polls, waits, retries and how many workflows it runs at once."""

    #: How often the poller looks for due work left by a restart or another node.
    poll_interval: timedelta = timedelta(seconds=10)
    #: How long a worker pauses when a non-blocking queue had nothing.
    idle_time: timedelta = timedelta(milliseconds=100)
    #: Retry interval of failing steps that do not set their own.
    default_error_retry_interval: timedelta = timedelta(seconds=60)
    #: Worker threads executing workflows.
    max_concurrent_workflows: int = 4
    #: Worker threads delivering events.
    event_workers: int = 1
    #: Steps awaited at once on the host's event loop (``async def`` steps); a worker with
    #: one more to start waits for one of them to finish.
    max_concurrent_async_steps: int = 1000
    #: How long `stop()` waits for running steps to finish.
    shutdown_timeout: timedelta = timedelta(seconds=30)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("liteflow"))
    #: Where every time the engine reads comes from (a `FakeClock` in tests).
    clock: Clock = field(default_factory=SystemClock)
    #: Callables wrapped around every step run, outermost first (see `liteflow.core.middleware`).
    step_middleware: tuple[StepMiddleware, ...] = ()
    #: Objects with `pre_workflow(instance)` and/or `post_workflow(instance)`, in order.
    workflow_middleware: tuple[object, ...] = ()
    #: Carries lifecycle events to handlers: by default in-process, this host's own.
    lifecycle_event_hub: LifecycleEventHub = field(default_factory=InProcessLifecycleEventHub)
    #: Lifecycle events buffered for slow handlers before new ones are dropped.
    lifecycle_buffer: int = 10_000

    @classmethod
    def from_keywords(cls, **options: Any) -> HostOptions:
        """Options from `configure_workflow_host`'s keywords: durations may be seconds, and an
        unknown option or a bad value raises `InvalidArgumentError` naming it."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InvalidArgumentError(
                f"unknown host option(s) {', '.join(unknown)}; known options: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for name, given in options.items():
            default = getattr(cls, name, None)
            value = given
            if isinstance(default, timedelta):
                try:
                    value = to_timedelta(given, name)
                except TypeError as exc:
                    raise InvalidArgumentError(str(exc)) from None
                if value <= timedelta(0):
                    raise InvalidArgumentError(f"{name} must be positive, got {value}")
            elif name in (
                "max_concurrent_workflows",
                "event_workers",
                "max_concurrent_async_steps",
                "lifecycle_buffer",
            ):
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise InvalidArgumentError(f"{name} must be an int >= 1, got {value!r}")
            elif name in _INSTANCE_OF and not isinstance(value, _INSTANCE_OF[name]):
                kind = _INSTANCE_OF[name]
                expected = f"{kind.__module__}.{kind.__qualname__}"
                raise InvalidArgumentError(f"{name} must be a {expected}, got {value!r}")
            elif name in ("step_middleware", "workflow_middleware"):
                value = _middleware_list(name, value)
            values[name] = value
        return cls(**values)
