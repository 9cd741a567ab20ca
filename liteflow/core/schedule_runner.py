"""The host thread that fires due schedule ticks, on the host's clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from .schedules import CronSchedule, ScheduleBook, Starter
from .worker_services import Services

__all__ = ["ScheduleRunner"]

#: Real seconds to wait before trying again after the store failed.
_RETRY_AFTER = 1.0


class ScheduleRunner:
    """Sleeps until the earliest next tick (or the poll interval, to see schedules other hosts
    added), fires what is due, and again; `wake` makes it look at once."""

    def __init__(
        self, services: Services, book: ScheduleBook, runs: Callable[[CronSchedule], bool], start: Starter
    ) -> None:
        self._services = services
        self._book = book
        self._runs = runs
        self._start = start
        self._condition = threading.Condition()
        self._changed = False

    def wake(self) -> None:
        with self._condition:
            self._changed = True
            self._condition.notify_all()

    def run(self) -> None:
        services = self._services
        while not services.stopping.is_set():
            until: datetime | None = services.clock.now() + services.options.poll_interval
            try:
                earliest = self._book.fire_due(services.clock.now(), self._runs, self._start)
            except Exception:
                services.logger.exception("firing schedules failed; trying again in %.0f s", _RETRY_AFTER)
                until = None
            else:
                if earliest is not None and until is not None and earliest < until:
                    until = earliest
            with self._condition:
                if self._changed or services.stopping.is_set():
                    self._changed = False
                elif until is None:
                    self._condition.wait(_RETRY_AFTER)
                else:
                    services.clock.wait(self._condition, until)
