"""The standard value types: each one's tagged document, and the way back.

These need no class lookup and hold no other values, so they are the leaves of a document.
Times keep their wall time, fold and zone exactly: a ``ZoneInfo`` is stored by its key
(a node that lacks the key refuses to load it), a named fixed offset keeps its name, and any
other tzinfo is refused, because its offsets come from its own code.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..text import is_storable_text
from ._introspect import MISSING, type_name
from ._paths import PathError, describe

__all__ = [
    "LEAF_DECODERS",
    "LEAF_ENCODERS",
    "TAG",
    "bytes_document",
    "decode_bytes",
    "float_document",
    "int_document",
    "tag_keys",
    "tag_size",
]

TAG = "$type"
_ZONE_KEY = re.compile(r"[A-Za-z0-9_+\-]{1,64}(?:/[A-Za-z0-9_+\-]{1,64}){0,3}")
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def tag_size(doc: dict[str, Any]) -> int:
    """What a tagged document's own keys and text add to the size limit."""
    size = 0
    for key, value in doc.items():
        size += len(key)
        if type(value) is str:
            size += len(value)
    return size


# ---------------------------------------------------------------------- storing


def float_document(value: float) -> dict[str, Any]:
    return {TAG: "float", "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _float_part(value: float) -> Any:
    return value if math.isfinite(value) else float_document(value)


def int_document(value: int) -> dict[str, Any]:
    try:
        text = str(value)
    except ValueError as exc:  # beyond sys.get_int_max_str_digits()
        raise PathError("cannot store an int this large", f": {exc}", exc) from None
    return {TAG: "int", "value": text}


def bytes_document(tag: str, value: bytes | bytearray) -> dict[str, Any]:
    return {TAG: tag, "value": base64.b64encode(value).decode("ascii")}


def _zone_fields(tz: Any) -> dict[str, Any]:
    """How a tzinfo is stored: nothing for none or an unnamed fixed offset."""
    if tz is None:
        return {}
    if type(tz) is timezone:
        name = tz.tzname(None)
        if name == timezone(tz.utcoffset(None)).tzname(None):
            return {}
        if not is_storable_text(name):
            raise PathError(
                "cannot store a time zone name with a lone surrogate", ": stores keep text as UTF-8"
            )
        return {"tzname": name}
    if type(tz) is ZoneInfo:
        key = tz.key
        if key is None:
            raise PathError(
                "cannot store a ZoneInfo made from a file",
                ": it has no key to find it again when loaded; use ZoneInfo(key)",
            )
        if not _ZONE_KEY.fullmatch(key):
            raise PathError(f"cannot store the time zone {describe(key)}", ": it is not an IANA zone key")
        return {"zone": key}
    raise PathError(
        f"cannot store tzinfo of type '{type_name(tz)}'",
        ": its offsets come from its own code, which loading never runs; "
        "use datetime.timezone or zoneinfo.ZoneInfo",
    )


def _datetime_document(value: datetime) -> dict[str, Any]:
    fields = _zone_fields(value.tzinfo)
    doc: dict[str, Any] = {TAG: "datetime", "value": value.isoformat(), **fields}
    if value.fold:
        doc["fold"] = 1
    return doc


def _time_document(value: time) -> dict[str, Any]:
    fields = _zone_fields(value.tzinfo)
    text = value.replace(tzinfo=None).isoformat() if "zone" in fields else value.isoformat()
    doc: dict[str, Any] = {TAG: "time", "value": text, **fields}
    if value.fold:
        doc["fold"] = 1
    return doc


# Dispatched on the exact type (subclasses are refused). Big ints, non-finite floats and
# bytearrays are told apart by the encoder itself.
LEAF_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    datetime: _datetime_document,
    date: lambda v: {TAG: "date", "value": v.isoformat()},
    time: _time_document,
    timedelta: lambda v: {
        TAG: "timedelta",
        "days": v.days,
        "seconds": v.seconds,
        "microseconds": v.microseconds,
    },
    Decimal: lambda v: {TAG: "decimal", "value": str(v)},
    uuid.UUID: lambda v: {TAG: "uuid", "value": str(v)},
    bytes: lambda v: bytes_document("bytes", v),
    complex: lambda v: {TAG: "complex", "real": _float_part(v.real), "imag": _float_part(v.imag)},
}


# ---------------------------------------------------------------------- loading


def _malformed(doc: dict[str, Any], what: str, exc: BaseException | None = None) -> NoReturn:
    detail = f" ({exc})" if exc is not None else ""
    raise PathError(f"malformed document: '{doc[TAG]}' {what}", detail, exc)


def _text(doc: dict[str, Any], key: str = "value") -> str:
    value = doc.get(key, MISSING)
    if type(value) is not str:
        _malformed(doc, f"needs '{key}' text")
    return value


def _int(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key, MISSING)
    if type(value) is not int:
        _malformed(doc, f"needs an int '{key}'")
    return value


def _parsed(
    parse: Callable[[str], Any], errors: type[Exception] | tuple[type[Exception], ...]
) -> Callable[[dict[str, Any]], Any]:
    """A decoder for ``{"$type": ..., "value": "<text>"}`` documents whose text `parse` reads."""

    def decode(doc: dict[str, Any]) -> Any:
        try:
            return parse(_text(doc))
        except errors as exc:
            _malformed(doc, "has a bad value", exc)

    return decode


def _float_from(doc: dict[str, Any], value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError as exc:
            _malformed(doc, "has a number too large for a float", exc)
    if type(value) is dict and value.get(TAG) == "float" and value.get("value") in _FLOATS:
        return _FLOATS[value["value"]]
    _malformed(doc, "has a bad number")


def _complex(doc: dict[str, Any]) -> complex:
    return complex(_float_from(doc, doc.get("real")), _float_from(doc, doc.get("imag")))


def decode_bytes(doc: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(_text(doc), validate=True)
    except (binascii.Error, ValueError) as exc:
        _malformed(doc, "has bad base64", exc)


def _zone(doc: dict[str, Any]) -> ZoneInfo:
    key = doc["zone"]
    if type(key) is not str or not _ZONE_KEY.fullmatch(key):
        _malformed(doc, "has a 'zone' that is not an IANA zone key")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise PathError(
            f"stored time zone {describe(key)} is not available on this node",
            " (install the tzdata package or the system's time zone database)",
            exc,
        ) from None


def _named_offset(doc: dict[str, Any], offset: timedelta | None) -> timezone:
    name = doc["tzname"]
    if offset is None or type(name) is not str or not is_storable_text(name):
        _malformed(doc, "has a 'tzname' without an offset, or one that is not text")
    return timezone(offset, name)


def _fold(doc: dict[str, Any]) -> int:
    fold = doc.get("fold", 0)
    if type(fold) is not int or fold not in (0, 1):
        _malformed(doc, "has a 'fold' that is not 0 or 1")
    return fold


_read_datetime = _parsed(datetime.fromisoformat, ValueError)
_read_time = _parsed(time.fromisoformat, ValueError)


def _datetime(doc: dict[str, Any]) -> datetime:
    value: datetime = _read_datetime(doc)
    fold = _fold(doc)
    if "zone" in doc:
        offset = value.utcoffset()
        if offset is None or "tzname" in doc:
            _malformed(doc, "with a 'zone' needs an offset and no 'tzname'")
        zone = _zone(doc)
        wall = value.replace(tzinfo=None)
        for candidate_fold in (fold, 1 - fold):  # documents of older versions did not store the fold
            candidate = wall.replace(tzinfo=zone, fold=candidate_fold)
            if candidate.utcoffset() == offset:
                return candidate  # the stored wall time, even inside a DST gap
        return value.astimezone(zone)  # the zone's rules changed since: keep the instant
    if "tzname" in doc:
        value = value.replace(tzinfo=_named_offset(doc, value.utcoffset()))
    return value.replace(fold=fold) if fold else value


def _time(doc: dict[str, Any]) -> time:
    value: time = _read_time(doc)
    if "zone" in doc:
        if value.tzinfo is not None or "tzname" in doc:
            _malformed(doc, "with a 'zone' needs a wall time without offset and no 'tzname'")
        value = value.replace(tzinfo=_zone(doc))
    elif "tzname" in doc:
        value = value.replace(tzinfo=_named_offset(doc, value.utcoffset()))
    fold = _fold(doc)
    return value.replace(fold=fold) if fold else value


def _timedelta(doc: dict[str, Any]) -> timedelta:
    try:
        return timedelta(
            days=_int(doc, "days"), seconds=_int(doc, "seconds"), microseconds=_int(doc, "microseconds")
        )
    except OverflowError as exc:
        _malformed(doc, "is out of range", exc)


def tag_keys(*names: str) -> frozenset[str]:
    """The keys a tagged document may have: its tag and `names`."""
    return frozenset((TAG, *names))


_VALUE = tag_keys("value")
_ZONED = tag_keys("value", "zone", "tzname", "fold")

# tag -> (the keys its document may have, the decoder)
LEAF_DECODERS: dict[str, tuple[frozenset[str], Callable[[dict[str, Any]], Any]]] = {
    "int": (_VALUE, _parsed(int, ValueError)),
    "float": (_VALUE, lambda doc: _float_from(doc, doc)),
    "complex": (tag_keys("real", "imag"), _complex),
    "bytes": (_VALUE, decode_bytes),
    "datetime": (_ZONED, _datetime),
    "date": (_VALUE, _parsed(date.fromisoformat, ValueError)),
    "time": (_ZONED, _time),
    "timedelta": (tag_keys("days", "seconds", "microseconds"), _timedelta),
    "decimal": (_VALUE, _parsed(Decimal, InvalidOperation)),
    "uuid": (_VALUE, _parsed(uuid.UUID, ValueError)),
}
