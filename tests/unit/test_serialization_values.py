"""Values come back equal, or are refused when stored with the reason: nothing changes silently."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from liteflow.core import SerializationError, register_type
from liteflow.core.serialization import JsonSerializer

JSON = JsonSerializer()
PARIS = ZoneInfo("Europe/Paris")


def roundtrip(value: Any) -> Any:
    return JSON.loads(JSON.dumps(value))


@register_type
class Holder:
    def __init__(self, **attributes: Any) -> None:
        vars(self).update(attributes)


# ------------------------------------------------------------------ time zones


def test_a_named_fixed_offset_keeps_its_name() -> None:
    cet = timezone(timedelta(hours=1), "CET")
    when = roundtrip(datetime(2026, 1, 2, 3, 4, tzinfo=cet))
    assert when.tzname() == "CET" and when.utcoffset() == timedelta(hours=1)
    at = roundtrip(time(8, 30, tzinfo=cet))
    assert at.tzname() == "CET" and at.utcoffset() == timedelta(hours=1)
    assert roundtrip(datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=1)))).tzname() == "UTC+01:00"


class Martian(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=3)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "MARS"


@pytest.mark.parametrize("value", [datetime(2026, 1, 1, tzinfo=Martian()), time(1, tzinfo=Martian())])
def test_a_tzinfo_of_its_own_class_is_refused_with_the_reason(value: Any) -> None:
    with pytest.raises(
        SerializationError, match=r"tzinfo of type 'Martian' at data\[0\]: its offsets come from its own code"
    ):
        JSON.to_document([value], "data")


def test_a_zoneinfo_without_a_key_is_refused(tmp_path: Path) -> None:
    source = Path("/usr/share/zoneinfo/Europe/Paris")
    if not source.exists():
        pytest.skip("no system time zone database to read a zone file from")
    with source.open("rb") as file:
        keyless = ZoneInfo.from_file(file)
    with pytest.raises(SerializationError, match="a ZoneInfo made from a file"):
        JSON.to_document(datetime(2026, 1, 1, tzinfo=keyless))


@pytest.mark.parametrize("fold", [0, 1])
def test_a_local_time_inside_a_dst_gap_comes_back_exactly(fold: int) -> None:
    gap = datetime(2026, 3, 29, 2, 30, fold=fold, tzinfo=PARIS)  # clocks jump from 02:00 to 03:00
    loaded = roundtrip(gap)
    assert (loaded.replace(tzinfo=None), loaded.fold, loaded.tzinfo) == (
        gap.replace(tzinfo=None),
        fold,
        PARIS,
    )
    assert loaded.utcoffset() == gap.utcoffset()


@pytest.mark.parametrize("fold", [0, 1])
def test_an_ambiguous_local_time_keeps_its_fold(fold: int) -> None:
    twice = datetime(2026, 10, 25, 2, 30, fold=fold, tzinfo=PARIS)  # 02:00-03:00 happens twice
    loaded = roundtrip(twice)
    assert loaded.fold == fold and loaded.utcoffset() == twice.utcoffset() and loaded.tzinfo is PARIS


def test_a_zone_whose_rules_changed_since_keeps_the_instant() -> None:
    # Stored with an offset Paris never has at that wall time.
    document = {"$type": "datetime", "value": "2026-07-01T12:00:00+05:00", "zone": "Europe/Paris"}
    loaded = JSON.from_document(document)
    assert loaded == datetime(2026, 7, 1, 7, 0, tzinfo=timezone.utc) and loaded.tzinfo is PARIS


@pytest.mark.parametrize("kind", ["datetime", "time"])
def test_a_zone_this_node_lacks_is_an_error_not_a_fixed_offset(kind: str) -> None:
    value = "2026-07-01T12:00:00+02:00" if kind == "datetime" else "12:00:00"
    with pytest.raises(
        SerializationError, match="time zone 'Mars/Olympus_Mons' is not available on this node"
    ):
        JSON.from_document({"$type": kind, "value": value, "zone": "Mars/Olympus_Mons"})


@pytest.mark.parametrize("zone", ["../../etc/passwd", "/etc/localtime", "Europe.Paris", 5])
def test_a_zone_key_that_is_not_an_iana_key_is_malformed(zone: Any) -> None:
    with pytest.raises(SerializationError, match="not an IANA zone key"):
        JSON.from_document({"$type": "datetime", "value": "2026-07-01T12:00:00+02:00", "zone": zone})


# ------------------------------------------------------------------ aliasing


def test_a_list_stored_twice_in_one_document_comes_back_as_one_list() -> None:
    shared = [1, 2]
    loaded = roundtrip([shared, shared])
    assert loaded == [[1, 2], [1, 2]] and loaded[0] is loaded[1]
    loaded[0].append(3)
    assert loaded[1] == [1, 2, 3]


def test_every_mutable_kind_keeps_its_sharing() -> None:
    items: list[Any] = [[1], {"k": 1}, {2, 3}, bytearray(b"x"), Holder(n=1), {1: "non-text key"}]
    loaded = roundtrip({"first": items, "again": list(items), "in a tuple": tuple(items)})
    for index, item in enumerate(loaded["first"]):
        assert item == items[index] or type(item) is Holder
        assert loaded["again"][index] is item and loaded["in a tuple"][index] is item


def test_an_object_shared_by_two_objects_stays_shared() -> None:
    child = Holder(name="child", tags=["a"])
    loaded = roundtrip([Holder(child=child), Holder(child=child)])
    assert loaded[0].child is loaded[1].child
    assert loaded[0].child.tags is loaded[1].child.tags


def test_sharing_is_written_as_a_reference_to_the_first_one() -> None:
    shared = {"k": 1}
    assert JSON.to_document([shared, [shared]]) == [{"k": 1}, [{"$type": "ref", "id": 1}]]


@pytest.mark.parametrize(
    "document",
    [
        [{"$type": "ref", "id": 0}],  # the list holding it
        [[], {"$type": "ref", "id": 5}],  # none numbered 5
        [{"$type": "ref", "id": "0"}],
        [{"$type": "ref", "id": 0, "extra": 1}],
    ],
)
def test_a_reference_to_nothing_before_it_or_to_its_own_container_is_malformed(document: Any) -> None:
    with pytest.raises(SerializationError, match="malformed document"):
        JSON.from_document(document)


def test_a_value_holding_itself_is_still_refused() -> None:
    loop: list[Any] = []
    loop.append({"inner": loop})
    with pytest.raises(SerializationError, match=r"cycle detected at data\[0\]\['inner'\]"):
        JSON.to_document(loop, "data")


# ------------------------------------------------------------------ text and numbers


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("lone \ud800", "data"),
        ({"\udc00": 1}, "data['\\udc00']"),
        (Holder(**{"\ud800": 1}), "data.\ud800"),
        ([datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1), "\ud800"))], "data[0]"),
    ],
    ids=["text", "key", "attribute", "zone-name"],
)
def test_a_lone_surrogate_is_refused_when_stored(value: Any, path: str) -> None:
    with pytest.raises(SerializationError, match="lone surrogate") as caught:
        JSON.to_document(value, "data")
    assert f" at {path}" in str(caught.value)


@pytest.mark.parametrize(
    "text", ['"\\ud800"', '{"\\udc00": 1}', '{"$type": "object", "class": "x:Y", "state": 1}']
)
def test_a_lone_surrogate_or_bad_shape_in_stored_text_is_refused_when_loaded(text: str) -> None:
    with pytest.raises(SerializationError):
        JSON.loads(text)


def test_an_int_too_long_to_write_as_text_is_refused_when_stored() -> None:
    with pytest.raises(SerializationError, match="cannot store an int this large at data"):
        JSON.to_document(10**5000, "data")


@pytest.mark.parametrize(
    "document",
    [
        {"$type": "complex", "real": 10**400, "imag": 0},
        {"$type": "timedelta", "days": 10**12, "seconds": 0, "microseconds": 0},
        {"$type": "int", "value": "1" * 5000},
        {"$type": "datetime", "value": "9999-12-31T23:59:59-05:00", "zone": "Europe/Paris"},
    ],
)
def test_numbers_out_of_range_in_a_document_are_serialization_errors(document: Any) -> None:
    with pytest.raises(SerializationError):
        JSON.from_document(json.loads(json.dumps(document)))
