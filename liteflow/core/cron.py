"""Cron expressions in an IANA time zone, evaluated by `cronsim` (the ``cron`` extra).

cronsim is small, typed, maintained, and follows Debian's cron to the letter, DST included:
a tick that falls in the hour skipped in spring runs when the clock jumps over it, and one in
the hour repeated in autumn runs once. Times in and out are aware UTC.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from itertools import islice, takewhile
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import HostStateError, InvalidArgumentError

__all__ = ["CronExpression"]

_SECOND = timedelta(seconds=1)


def _cronsim() -> Any:
    try:
        import cronsim
    except ImportError:
        raise HostStateError(
            "schedules need the cron extra: pip install 'liteflow[cron]' (it installs cronsim)"
        ) from None
    return cronsim


class CronExpression:
    """A five-field cron expression (names such as ``MON-FRI`` and ``JAN`` allowed) read in
    the IANA time zone `timezone`."""

    def __init__(self, expression: str, timezone_name: str = "UTC") -> None:
        if not isinstance(expression, str) or len(expression.split()) != 5:
            raise InvalidArgumentError(
                f"a cron expression has five fields (minute hour day month weekday), got {expression!r}"
            )
        if not isinstance(timezone_name, str) or not timezone_name:
            raise InvalidArgumentError(f"timezone must be an IANA time zone name, got {timezone_name!r}")
        try:
            self.zone = ZoneInfo(timezone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgumentError(f"unknown time zone {timezone_name!r} (use an IANA name)") from None
        self.expression = expression
        self.timezone = timezone_name
        cronsim = _cronsim()
        try:
            cronsim.CronSim(expression, datetime.now(self.zone))
        except cronsim.CronSimError as exc:
            raise InvalidArgumentError(f"invalid cron expression {expression!r}: {exc}") from None

    def _ticks(self, start: datetime, reverse: bool) -> Iterator[datetime]:
        # cronsim stops after 50 years without a match.
        for tick in _cronsim().CronSim(self.expression, start.astimezone(self.zone), reverse=reverse):
            yield tick.astimezone(timezone.utc)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first tick after `moment`; None if there is none within 50 years.

        (In the hour repeated in autumn, cronsim may name a tick of the first pass through
        it while `moment` is in the second: that one is past, and skipped.)
        """
        return next((tick for tick in self._ticks(moment, reverse=False) if tick > moment), None)

    def ticks_between(self, first: datetime, last: datetime, limit: int) -> list[datetime]:
        """Ticks from `first` to `last` (both included), oldest first: the latest `limit`.

        They are found going forwards (going backwards, cronsim misses ticks in an hour that
        autumn repeats); a long way back, the search starts near the `limit`-th latest tick.
        """
        start = first
        backwards = takewhile(lambda tick: tick >= first, self._ticks(last + _SECOND, reverse=True))
        latest = list(islice(backwards, limit))
        if len(latest) == limit:
            start = max(first, latest[-1])
        found: deque[datetime] = deque(maxlen=limit)
        for tick in self._ticks(start - _SECOND, reverse=False):
            if tick > last:
                break
            if tick >= start:
                found.append(tick)
        return list(found)
