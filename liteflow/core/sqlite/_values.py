"""How the SQLite store writes values: times as integer microseconds, documents as compact JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from ..clock import to_utc
from ..errors import InvalidArgumentError, SerializationError
from ..record_schema import POINTER_ID_LISTS
from ..record_schema import POINTER_PLAIN as SCHEMA_POINTER_PLAIN
from ..records import ExecutionPointer

# A pointer is stored as the fields (see record_schema) that differ from a new
# ExecutionPointer's: a handful of keys instead of nineteen, so far less JSON to write and
# parse. Times are stored as microseconds, payloads through the serializer, the rest as it is.
POINTER_PLAIN = tuple(
    (name, default)
    for name, default in vars(ExecutionPointer()).items()
    if name in SCHEMA_POINTER_PLAIN or name in POINTER_ID_LISTS
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)
# Documents come from the serializer, which refuses cycles, so the encoder's own check is skipped.
encode_json = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False
).encode


def to_micros(value: object, what: str, pointer_index: int | None = None) -> int | None:
    """Integer microseconds since the epoch compare and sort exactly in SQL, unlike text or floats."""
    if value is None:
        return None
    # The engine's own times are UTC datetimes already; only the others need checks and conversion.
    if type(value) is not datetime or value.tzinfo is not timezone.utc:
        if not isinstance(value, datetime):
            if pointer_index is not None:
                what = f"execution_pointers[{pointer_index}].{what}"
            raise InvalidArgumentError(f"{what} must be a datetime, got {type(value).__name__}: {value!r}")
        value = to_utc(value)
    return (value - EPOCH) // MICROSECOND


def from_micros(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + MICROSECOND * value


def stored_time(value: Any, where: str) -> datetime | None:
    """A stored time, checked: a tampered value is a SerializationError, not a TypeError."""
    if value is not None and type(value) is not int:
        raise SerializationError(f"cannot load {where}: holds {type(value).__name__}, expected a time")
    try:
        return from_micros(value)
    except OverflowError:
        raise SerializationError(f"cannot load {where}: time {value} is out of range") from None


def encode_document(document: Any, path: str) -> str:
    """One shared encoder: ``json.dumps`` with options would build a new one on every call."""
    try:
        return encode_json(document)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"cannot store value at {path}: {exc}") from exc


def decode_document(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than json can read
        raise SerializationError(f"cannot load {where}: stored text is not valid JSON ({exc})") from exc
