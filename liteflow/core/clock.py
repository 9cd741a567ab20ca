"""Time: the clock the engine reads, and helpers keeping every stored time aware UTC.

The engine never calls `datetime.now` itself: every time it stores or compares (sleeps,
delays, schedules, wait timeouts, retry intervals, event as-of times, due times) comes from
the host's `Clock`. `SystemClock` is the real one; a test passes
`liteflow.core.testing.FakeClock` and moves time forward by hand.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .host import WorkflowHost

__all__ = ["Clock", "SystemClock", "utcnow", "to_utc", "to_timedelta", "MIN_TIME", "MAX_TIME"]

MIN_TIME = datetime.min.replace(tzinfo=timezone.utc)
MAX_TIME = datetime.max.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, as every time the engine stores is."""
    return datetime.now(timezone.utc)


class Clock(ABC):
    """What the engine asks the time, and how its timers wait for a time on that clock."""

    @abstractmethod
    def now(self) -> datetime:
        """The current time, aware UTC."""

    @abstractmethod
    def wait(self, condition: threading.Condition, until: datetime) -> None:
        """With `condition` held, wait until this clock reaches `until` or `condition` is
        notified, whichever comes first (it may also return early: callers check again)."""

    def attach(self, host: WorkflowHost) -> None:
        """`host` starts running on this clock."""

    def detach(self, host: WorkflowHost) -> None:
        """`host` stopped."""


class SystemClock(Clock):
    """The real UTC clock; the default."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def wait(self, condition: threading.Condition, until: datetime) -> None:
        delay = (until - datetime.now(timezone.utc)).total_seconds()
        if delay > 0:
            condition.wait(delay)

    def __repr__(self) -> str:
        return "SystemClock()"


def to_utc(value: datetime) -> datetime:
    """Take a naive datetime as UTC, convert an aware one to UTC."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    if value.tzinfo is timezone.utc:
        return value
    if value in (datetime.max.replace(tzinfo=value.tzinfo), datetime.min.replace(tzinfo=value.tzinfo)):
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def to_timedelta(value: timedelta | float | int, what: str = "duration") -> timedelta:
    """Accept a timedelta or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise TypeError(
        f"{what} must be a timedelta or a number of seconds, got {type(value).__name__}: {value!r}"
    )
