"""A clock that moves only when told to, so tests of timers take milliseconds, not hours."""

from __future__ import annotations

import threading
import weakref
from datetime import datetime, timedelta

from ..clock import Clock, to_utc, utcnow
from ..errors import InvalidArgumentError

__all__ = ["FakeClock"]


class FakeClock(Clock):
    """Stands still until `advance` moves it; timers waiting on it wake when it reaches them.

    Give it to a host (``configure_workflow_host(clock=FakeClock())``): a workflow that
    delays an hour completes within milliseconds of ``advance(timedelta(hours=1))``, and
    not before. Only the engine's times follow it; timeouts of the caller (like
    ``wait_for_workflow``'s) stay in real seconds.
    """

    def __init__(self, start: datetime | None = None) -> None:
        """`start`: the time it shows first (naive means UTC); default the real time now."""
        try:
            self._now = utcnow() if start is None else to_utc(start)
        except TypeError as exc:
            raise InvalidArgumentError(f"FakeClock start: {exc}") from None
        self._lock = threading.Lock()
        self._waiters: weakref.WeakSet[threading.Condition] = weakref.WeakSet()

    def now(self) -> datetime:
        return self._now

    def advance(self, duration: timedelta) -> datetime:
        """Move the clock forward by `duration` and wake what waits for the new time; return it."""
        if not isinstance(duration, timedelta):
            raise InvalidArgumentError(f"advance() takes a timedelta, got {type(duration).__name__}")
        if duration < timedelta(0):
            raise InvalidArgumentError(f"a clock does not go back: advance({duration})")
        with self._lock:
            self._now += duration
            now = self._now
            waiters = list(self._waiters)
        for condition in waiters:
            with condition:
                condition.notify_all()
        return now

    def wait(self, condition: threading.Condition, until: datetime) -> None:
        # Registered under the clock's lock and checked again there: an advance either came
        # before (and is seen now) or comes after (and notifies `condition`, which the caller
        # holds until `condition.wait` releases it).
        with self._lock:
            self._waiters.add(condition)
            if self._now >= until:
                return
        condition.wait()

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"
