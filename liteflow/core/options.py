"""Host settings, given to `configure_workflow_host` as keywords."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

from .clock import to_timedelta
from .errors import InvalidArgumentError

__all__ = ["HostOptions"]


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
    #: How long `stop()` waits for running steps to finish.
    shutdown_timeout: timedelta = timedelta(seconds=30)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("liteflow"))

    @classmethod
    def from_keywords(cls, **options: Any) -> HostOptions:
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
            elif name in ("max_concurrent_workflows", "event_workers"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise InvalidArgumentError(f"{name} must be an int >= 1, got {value!r}")
            elif name == "logger" and not isinstance(value, logging.Logger):
                raise InvalidArgumentError(f"logger must be a logging.Logger, got {value!r}")
            values[name] = value
        return cls(**values)
