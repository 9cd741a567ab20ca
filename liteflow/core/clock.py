"""Time helpers: every time LiteFlow stores or compares is timezone-aware UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["utcnow", "to_utc", "to_timedelta", "MIN_TIME", "MAX_TIME"]

MIN_TIME = datetime.min.replace(tzinfo=timezone.utc)
MAX_TIME = datetime.max.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
