"""Reading values people type: durations, times, JSON (the command line's and the dashboard's filters)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from liteflow.core.clock import to_utc
from liteflow.core.errors import InvalidArgumentError

__all__ = ["parse_duration", "parse_json", "parse_time"]

_UNITS = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1)}
_UNITS |= {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``, ``1w``, or several at once: ``1h30m``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise InvalidArgumentError(f"{text!r} is not a duration: write e.g. 90s, 15m, 2h, 7d or 1h30m")
    return sum((float(number) * _UNITS[unit] for number, unit in parts), timedelta())


def parse_time(text: str, now: datetime) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise), or a duration before `now` (``2h``)."""
    try:
        return to_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        pass
    try:
        return now - parse_duration(text)
    except InvalidArgumentError:
        raise InvalidArgumentError(
            f"{text!r} is neither an ISO 8601 time (2026-05-01T10:00) nor a duration ago (2h, 7d)"
        ) from None


def parse_json(text: str, what: str) -> Any:
    """JSON given on the command line; a bad one raises `InvalidArgumentError` naming `what`."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} is not JSON: {exc}") from None
