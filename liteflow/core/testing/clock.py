"""A clock that moves only when told to, so tests of timers take milliseconds, not hours."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..clock import Clock, to_utc, utcnow
from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from ..host import WorkflowHost

__all__ = ["FakeClock"]

_logger = logging.getLogger("liteflow.testing")
#: How long `advance` waits (real seconds) for the hosts to finish what is due before moving.
_SETTLE_TIMEOUT = 5.0
_POLL = 0.002


class FakeClock(Clock):
    """Stands still until `advance` moves it; timers waiting on it wake when it reaches them.

    Give it to a host (``configure_workflow_host(clock=FakeClock())``): a workflow that
    delays one hour completes within milliseconds of ``advance(timedelta(hours=1))``, and
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
        self._hosts: weakref.WeakSet[WorkflowHost] = weakref.WeakSet()

    def now(self) -> datetime:
        return self._now

    def advance(self, duration: timedelta) -> datetime:
        """Move the clock forward by `duration` and wake what waits for the new time; return it.

        First it waits (up to 5 s) until the running hosts on this clock have done everything
        due at the current time, so that a workflow just started, or an event just published,
        has reached its sleep or wait before the time it waits for goes by.
        """
        if not isinstance(duration, timedelta):
            raise InvalidArgumentError(f"advance() takes a timedelta, got {type(duration).__name__}")
        if duration < timedelta(0):
            raise InvalidArgumentError(f"a clock does not go back: advance({duration})")
        self._settle()
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

    def attach(self, host: WorkflowHost) -> None:
        self._hosts.add(host)

    def detach(self, host: WorkflowHost) -> None:
        self._hosts.discard(host)

    def due_work(self) -> list[str]:
        """Ids of the instances, events and schedules the running hosts still have to handle now."""
        now = self._now
        due: list[str] = []
        for host in list(self._hosts):
            if host.is_running:
                store = host.persistence_service
                due += store.get_runnable_instances(now) + store.get_runnable_events(now)
                due += host.due_schedules()
        return due

    def _settle(self) -> None:
        deadline = time.monotonic() + _SETTLE_TIMEOUT
        while due := self.due_work():
            if time.monotonic() >= deadline:
                _logger.warning(
                    "FakeClock.advance: still due after %.0f s, moving the clock anyway: %s",
                    _SETTLE_TIMEOUT,
                    due,
                )
                return
            time.sleep(_POLL)

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"
