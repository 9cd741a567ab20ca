"""JSON documents for user values: round-trips, readable output, clear errors, no code on load."""

from __future__ import annotations

import builtins
import collections
import dataclasses
import enum
import gc
import io
import json
import math
import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import pytest

from liteflow.core import serialization
from liteflow.core.errors import SerializationError
from liteflow.core.serialization import (
    DEFAULT_SERIALIZER,
    JsonSerializer,
    PickleSerializer,
    Serializer,
    register_type,
)

# --------------------------------------------------------------------- module-level test types

INIT_CALLS: list[str] = []


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Perm(enum.Flag):
    READ = 1
    WRITE = 2
    EXEC = 4


class Corner(enum.Enum):
    TOP_LEFT = (0, 0)
    BOTTOM_RIGHT = (1, 1)


if sys.version_info >= (3, 11):

    class Mode(enum.StrEnum):
        FAST = "fast"
        SAFE = "safe"


@dataclasses.dataclass
class Point:
    x: int
    y: int

    def __post_init__(self) -> None:
        INIT_CALLS.append("Point.__post_init__")


@dataclasses.dataclass(frozen=True)
class FrozenPoint:
    x: float
    label: str = "p"

    def __post_init__(self) -> None:
        INIT_CALLS.append("FrozenPoint.__post_init__")


@dataclasses.dataclass(slots=True)
class SlottedPoint:
    x: int
    tags: tuple[str, ...] = ()


class Plain:
    """A plain class whose __init__ must never run on load."""

    def __init__(self, name: str, values: Any = None) -> None:
        INIT_CALLS.append("Plain.__init__")
        self.name = name
        self.values = values

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]


class Hashable:
    def __init__(self, key: str) -> None:
        self.key = key

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


class Slotted:
    __slots__ = ("__secret", "a", "b")

    def __init__(self, a: Any, b: Any, secret: Any) -> None:
        INIT_CALLS.append("Slotted.__init__")
        self.a = a
        self.b = b
        self.__secret = secret

    def secret(self) -> Any:
        return self.__secret

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n, None) == getattr(other, n, None) for n in ("a", "b", "_Slotted__secret")
        )

    __hash__ = None  # type: ignore[assignment]


class PartlySlotted(Plain):
    __slots__ = ("extra",)
    extra: Any


T = TypeVar("T")


class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item = item

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass
class Derived:
    base: int
    doubled: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.doubled = self.base * 2
        self.cache = {"computed": True}


class Pair(NamedTuple):
    left: Any
    right: Any


LegacyPair = collections.namedtuple("LegacyPair", "a b")


class Outer:
    class Inner:
        def __init__(self, v: int) -> None:
            self.v = v

        def __eq__(self, other: object) -> bool:
            return type(other) is type(self) and vars(other) == vars(self)

        __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass
class Inventory:
    """The nested case: a dataclass holding a dict of lists of plain objects."""

    name: str
    shelves: dict[str, list[Plain]]
    added: datetime


class Holder:
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class Connection:
    def __init__(self) -> None:
        self.host = "db"
        self.guard = threading.Lock()


class NotAList(list[int]):
    pass


class WithFinalizer:
    def __init__(self) -> None:
        self.name = "x"

    def __del__(self) -> None:
        pass


# This module defines no workflow, so its classes are made known one by one.
for _known in (
    Color,
    Priority,
    Perm,
    Corner,
    Point,
    FrozenPoint,
    SlottedPoint,
    Plain,
    Hashable,
    Slotted,
    PartlySlotted,
    Box,
    Derived,
    Pair,
    LegacyPair,
    Outer,
    Outer.Inner,
    Inventory,
    Holder,
    Connection,
    Fraction,  # the standard library's classes too: none is known unless registered
):
    register_type(_known)
if sys.version_info >= (3, 11):
    register_type(Mode)


def module_level_function(x: int) -> int:
    return x * 2


def _generator() -> Iterator[int]:
    yield 1


# --------------------------------------------------------------------- helpers

JSON = JsonSerializer()


def roundtrip(value: Any, serializer: Serializer = JSON) -> Any:
    return serializer.loads(serializer.dumps(value, "data"))


def assert_same(actual: Any, expected: Any) -> None:
    """Equality AND type, all the way down (so a tuple must stay a tuple)."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, float):
        if math.isnan(expected):
            assert math.isnan(actual)
        else:
            assert actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
    elif isinstance(expected, Decimal) and expected.is_nan():
        assert actual.is_nan()
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same(a, e)
    elif isinstance(expected, dict):
        assert list(actual) == list(expected)
        for (ka, va), (ke, ve) in zip(actual.items(), expected.items(), strict=True):
            assert_same(ka, ke)
            assert_same(va, ve)
    elif isinstance(expected, (set, frozenset)):
        assert actual == expected
        assert sorted(map(repr, actual)) == sorted(map(repr, expected))
    elif isinstance(expected, (datetime, time)):
        assert actual == expected
        assert (actual.tzinfo is None) == (expected.tzinfo is None)
        assert actual.utcoffset() == expected.utcoffset()
        assert actual.isoformat() == expected.isoformat()
        assert actual.fold == expected.fold
    else:
        assert actual == expected


# --------------------------------------------------------------------- round-trips

ROUND_TRIPS: list[tuple[str, Any]] = [
    ("none", None),
    ("true", True),
    ("false", False),
    ("zero", 0),
    ("negative-int", -42),
    ("int64-max", 2**63 - 1),
    ("big-int", 2**80 + 1),
    ("big-negative-int", -(2**70)),
    ("float", 1.25),
    ("negative-zero", -0.0),
    ("nan", math.nan),
    ("inf", math.inf),
    ("minus-inf", -math.inf),
    ("complex", complex(1.5, -math.inf)),
    ("str", 'héllo ✓ "quoted" \n'),
    ("empty-str", ""),
    ("list", [1, "a", None, 2.5]),
    ("empty-list", []),
    ("tuple", (1, "two", 3.0)),
    ("empty-tuple", ()),
    ("nested-tuple", (1, (2, (3, [4, (5,)])))),
    ("set", {1, 2, 3}),
    ("empty-set", set()),
    ("frozenset", frozenset({"a", (1, 2)})),
    ("bytes", b"\x00\xffbinary"),
    ("bytearray", bytearray(b"mutable")),
    ("dict", {"a": 1, "b": [1, 2]}),
    ("empty-dict", {}),
    ("int-keys", {1: "one", 2: "two"}),
    ("tuple-keys", {(1, 2): "pair", (3,): "single"}),
    ("mixed-keys", {"s": 1, 2: "i", None: "n", True: "b", 1.5: "f", frozenset({1}): "fs"}),
    ("tag-collision", {"$type": "datetime", "value": "not a date"}),
    ("dollar-key", {"$set": {"x": 1}, "plain": 2}),
    ("tag-shaped-plain", {"items": [1], "class": "os:system", "state": {}}),
    ("aware-utc", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)),
    ("aware-offset", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    ("aware-negative", datetime(2026, 6, 1, tzinfo=timezone(timedelta(hours=-3)))),
    ("aware-odd-offset", datetime(2026, 6, 1, tzinfo=timezone(timedelta(seconds=-3723, microseconds=5)))),
    ("aware-zoneinfo", datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))),
    ("aware-zoneinfo-fold", datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris"))),
    ("naive-datetime", datetime(2026, 1, 2, 3, 4, 5, 6)),
    ("naive-fold", datetime(2026, 1, 2, 3, 4, 5, fold=1)),
    ("date", date(1999, 12, 31)),
    ("time", time(23, 59, 59, 999999)),
    ("aware-time", time(8, 0, tzinfo=timezone(timedelta(hours=-7)))),
    ("zoned-time", time(8, 0, tzinfo=ZoneInfo("America/New_York"))),
    ("timedelta", timedelta(days=-3, seconds=7, microseconds=11)),
    ("decimal", Decimal("1.10")),
    ("decimal-negative-zero", Decimal("-0")),
    ("decimal-nan", Decimal("NaN")),
    ("decimal-huge", Decimal("1E+400")),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("enum", Color.GREEN),
    ("int-enum", Priority.HIGH),
    ("flag", Perm.READ),
    ("flag-composite", Perm.READ | Perm.EXEC),
    ("tuple-valued-enum", Corner.BOTTOM_RIGHT),
    ("dataclass", Point(1, 2)),
    ("frozen-dataclass", FrozenPoint(2.5, "q")),
    ("slots-dataclass", SlottedPoint(3, ("a", "b"))),
    ("plain-object", Plain("n", {"k": [1, (2, 3)]})),
    ("slots-object", Slotted([1], {"x": 2}, secret=Decimal("3"))),
    ("nested-class", Outer.Inner(7)),
    ("generic-class", Box(Box([1]))),
    ("post-init-attributes", Derived(4)),
    ("named-tuple", Pair(Point(0, 0), {1, 2})),
    ("legacy-namedtuple", LegacyPair("a", b"b")),
    ("fraction", Fraction(3, 7)),
    ("object-values-beside-plain-keys", {"a": Hashable("a"), 2: [Hashable("c")]}),
]
if sys.version_info >= (3, 11):
    ROUND_TRIPS.append(("str-enum", Mode.SAFE))


@pytest.mark.parametrize(("value"), [v for _, v in ROUND_TRIPS], ids=[name for name, _ in ROUND_TRIPS])
def test_round_trip_keeps_value_and_type(value: Any) -> None:
    assert_same(roundtrip(value), value)
    # The document itself, not just the text, is JSON-safe and loads back the same.
    assert_same(JSON.from_document(json.loads(json.dumps(JSON.to_document(value)))), value)


def test_enum_members_come_back_as_the_same_member() -> None:
    assert roundtrip(Color.RED) is Color.RED
    assert roundtrip(Priority.LOW) is Priority.LOW
    assert roundtrip([Corner.TOP_LEFT])[0] is Corner.TOP_LEFT


def test_loading_never_calls_init_or_post_init() -> None:
    values = [Point(1, 2), FrozenPoint(1.0), Plain("p"), Slotted(1, 2, 3)]
    INIT_CALLS.clear()
    loaded = roundtrip(values)
    assert INIT_CALLS == []
    assert loaded == values
    assert loaded[3].secret() == 3


def test_frozen_dataclass_stays_frozen() -> None:
    loaded = roundtrip(FrozenPoint(1.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.x = 2.0


def test_unset_slots_stay_unset_and_mixed_slots_and_dict_round_trip() -> None:
    partial = Slotted.__new__(Slotted)
    partial.a = 1
    loaded = roundtrip(partial)
    assert loaded.a == 1
    assert not hasattr(loaded, "b")

    mixed = PartlySlotted("m", [1])
    mixed.extra = {"e": (1,)}
    loaded_mixed = roundtrip(mixed)
    assert loaded_mixed.extra == {"e": (1,)}
    assert vars(loaded_mixed) == {"name": "m", "values": [1]}


def test_nested_structures_round_trip() -> None:
    added = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    inventory = Inventory(
        name="main",
        shelves={
            "a": [Plain("bolt", {"sizes": {1, 2}, "price": Decimal("0.10")})],
            "b": [Plain("nut", (Decimal("2.5"), frozenset({"x"}))), Plain("gear", [Color.RED, None])],
            "c": [],
        },
        added=added,
    )
    loaded = roundtrip(inventory)
    assert type(loaded) is Inventory
    assert loaded == inventory
    bolt = loaded.shelves["a"][0]
    assert type(bolt) is Plain
    assert type(bolt.values["sizes"]) is set
    assert type(bolt.values["price"]) is Decimal and str(bolt.values["price"]) == "0.10"
    assert type(loaded.shelves["b"][0].values) is tuple
    assert loaded.added.utcoffset() == timedelta(hours=2)


def test_shared_references_are_not_cycles_and_stay_shared() -> None:
    shared = [1, 2]
    loaded = roundtrip({"a": shared, "b": shared, "c": Holder(x=shared, y=shared)})
    assert loaded["a"] == [1, 2]
    assert loaded["a"] is loaded["b"] is loaded["c"].x is loaded["c"].y


# --------------------------------------------------------------------- readable JSON


def test_plain_json_stays_plain_and_compact() -> None:
    value = {
        "name": "Zoë",
        "count": 3,
        "ratio": 0.5,
        "tags": ["a", "b"],
        "nested": {"ok": True, "none": None},
    }
    text = JSON.dumps(value)
    assert text == '{"name":"Zoë","count":3,"ratio":0.5,"tags":["a","b"],"nested":{"ok":true,"none":null}}'
    assert json.loads(text) == value
    assert JSON.to_document(value) == value


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_documents_are_valid_readable_json() -> None:
    value = Holder(
        when=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc),
        nan=math.nan,
        keys={1: "x"},
        point=Point(1, 2),
    )
    document = _strict_json(JSON.dumps(value, "data"))
    assert document["$type"] == "object"
    assert document["class"].endswith(":Holder")
    state = document["state"]
    assert state["when"] == {"$type": "datetime", "value": "2026-01-02T03:04:05.123456+00:00"}
    assert state["nan"] == {"$type": "float", "value": "nan"}
    assert state["keys"] == {"$type": "dict", "items": [[1, "x"]]}
    assert state["point"]["$type"] == "dataclass"
    assert state["point"]["state"] == {"x": 1, "y": 2}


def test_ints_beyond_64_bits_are_tagged_for_bson() -> None:
    assert JSON.to_document(2**63 - 1) == 2**63 - 1
    assert JSON.to_document(2**63) == {"$type": "int", "value": str(2**63)}


# --------------------------------------------------------------------- unstorable values


def _unstorable_cases() -> list[tuple[str, Any, str, str]]:
    connection = Holder(connection=Connection())
    return [
        ("lambda", Holder(callback=lambda: 1), "'function'", "data.callback"),
        ("function", [1, 2, module_level_function], "'function'", "data[2]"),
        ("lock", connection, "'lock'", "data.connection.guard"),
        ("generator", {"gen": _generator()}, "'generator'", "data['gen']"),
        ("file", Holder(files=[io.StringIO()]), "'StringIO'", "data.files[0]"),
        ("class", {1: Plain}, "'type'", "data[1]"),
        ("module", (os,), "'module'", "data[0]"),
        ("builtin-subclass", Holder(items=NotAList()), "'NotAList'", "data.items"),
        ("finalizer", {"w": WithFinalizer()}, "'WithFinalizer'", "data['w']"),
        ("nested-event", Holder(c=Corner.TOP_LEFT, bad=Holder(x=threading.Event())), "'Event'", "data.bad.x"),
        ("bad-key", {(1, threading.Lock()): 1}, "'lock'", "data"),
    ]


@pytest.mark.parametrize(
    ("value", "type_name", "path"),
    [case[1:] for case in _unstorable_cases()],
    ids=[case[0] for case in _unstorable_cases()],
)
def test_unstorable_value_names_type_and_path(value: Any, type_name: str, path: str) -> None:
    with pytest.raises(SerializationError) as info:
        JSON.dumps(value, "data")
    message = str(info.value)
    assert f"of type {type_name}" in message
    assert f" at {path}" in message


def test_socket_is_refused_with_type_and_path() -> None:
    with socket.socket() as sock:
        with pytest.raises(
            SerializationError, match=r"type 'socket' at event_data\['sock'\]: .*_socket\.socket"
        ):
            JSON.to_document({"sock": sock}, "event_data")
        open_file = open(os.devnull)  # noqa: SIM115 - closed below
        try:
            with pytest.raises(SerializationError, match=r"'TextIOWrapper' at data\.f"):
                JSON.to_document(Holder(f=open_file), "data")
        finally:
            open_file.close()


def test_serialization_error_is_the_shared_error_class() -> None:
    with pytest.raises(TypeError):  # SerializationError is also a TypeError
        JSON.to_document(threading.Lock())


def test_local_classes_are_refused_at_dump_time() -> None:
    class Local:
        def __init__(self) -> None:
            self.x = 1

    @dataclasses.dataclass
    class LocalData:
        x: int

    class LocalColor(enum.Enum):
        RED = 1

    for value in (Local(), LocalData(1), LocalColor.RED):
        with pytest.raises(SerializationError) as info:
            JSON.dumps({"v": value}, "data")
        message = str(info.value)
        assert type(value).__name__ in message
        assert "data['v']" in message
        assert "defined inside a function" in message and "module level" in message


def test_cycles_are_rejected_with_their_path() -> None:
    items: list[Any] = [1]
    items.append(items)
    with pytest.raises(SerializationError, match=r"cycle detected at data\[1\]"):
        JSON.dumps(items, "data")

    mapping: dict[str, Any] = {}
    mapping["self"] = {"again": mapping}
    with pytest.raises(SerializationError, match=r"cycle detected at data\['self'\]\['again'\]"):
        JSON.dumps(mapping, "data")

    parent = Holder(name="p")
    vars(parent)["child"] = Holder(parent=parent)
    with pytest.raises(SerializationError, match=r"cycle detected at data\.child\.parent"):
        JSON.dumps(parent, "data")

    through_tuple: list[Any] = []
    through_tuple.append((1, through_tuple))
    with pytest.raises(SerializationError, match=r"cycle detected at value\[0\]\[1\]"):
        JSON.to_document(through_tuple)


def test_too_deep_nesting_is_a_serialization_error() -> None:
    deep: list[Any] = []
    for _ in range(sys.getrecursionlimit() * 2):
        deep = [deep]
    with pytest.raises(SerializationError, match="nested more than 100 levels deep"):
        JSON.to_document(deep)


# --------------------------------------------------------------------- loading stored documents


def test_renamed_class_names_the_stored_type() -> None:
    document = JSON.to_document(Holder(inner=Plain("x")))
    module = document["state"]["inner"]["class"].split(":")[0]
    document["state"]["inner"]["class"] = f"{module}:OldPlain"
    with pytest.raises(SerializationError) as info:
        JSON.from_document(document)
    message = str(info.value)
    assert f"stored type '{module}:OldPlain' cannot be loaded: it is not a known type" in message
    assert "document.inner" in message


def test_missing_module_names_the_stored_type() -> None:
    document = JSON.to_document(Plain("x"))
    document["class"] = "myapp_that_does_not_exist.models:OldData"
    with pytest.raises(SerializationError) as info:
        JSON.from_document(document)
    message = str(info.value)
    assert "stored type 'myapp_that_does_not_exist.models:OldData' cannot be loaded" in message
    assert "myapp_that_does_not_exist" in message


def test_missing_enum_member_names_the_stored_type() -> None:
    document = JSON.to_document(Color.RED)
    document["value"] = "purple"
    with pytest.raises(SerializationError, match=r"stored type '.*:Color' cannot be loaded: .*'purple'"):
        JSON.from_document(document)


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def spy(name: str) -> Any:
        def called(*args: Any, **kwargs: Any) -> None:
            calls.append(name)

        return called

    monkeypatch.setattr(os, "system", spy("os.system"))
    monkeypatch.setattr(builtins, "eval", spy("eval"))
    monkeypatch.setattr(builtins, "exec", spy("exec"))
    return calls


HOSTILE_CLASSES = ["os:system", "builtins:eval", "builtins:exec", "builtins:getattr", "subprocess:run"]


@pytest.mark.parametrize("target", HOSTILE_CLASSES)
@pytest.mark.parametrize("tag", ["object", "dataclass", "enum", "namedtuple"])
def test_documents_cannot_make_the_loader_call_functions(spies: list[str], tag: str, target: str) -> None:
    document: dict[str, Any] = {"$type": tag, "class": target}
    if tag == "enum":
        document["value"] = "echo pwned"
    elif tag == "namedtuple":
        document["items"] = ["echo pwned"]
    else:
        document["state"] = {"args": "echo pwned"}
    with pytest.raises(
        SerializationError, match=rf"stored type '{target}' cannot be loaded: .*not a known type"
    ):
        JSON.from_document(document)
    with pytest.raises(SerializationError):
        JSON.loads(json.dumps([1, {"nested": document}]))
    assert spies == []


@pytest.mark.parametrize(
    "target",
    [
        "builtins:dict",
        "builtins:type",
        "builtins:object",
        "_thread:LockType",
        "io:StringIO",
        "subprocess:Popen",
    ],
)
def test_builtin_and_resource_types_are_not_rebuilt(target: str) -> None:
    with pytest.raises(SerializationError, match=rf"stored type '{target}' cannot be loaded"):
        JSON.from_document({"$type": "object", "class": target, "state": {}})


@pytest.mark.skipif(os.name == "nt", reason="the class only has a finalizer on POSIX")
def test_finalizer_gadgets_are_refused(tmp_path: Path) -> None:
    victim = tmp_path / "important.txt"
    victim.write_text("keep me")
    document = {
        "$type": "object",
        "class": "tempfile:_TemporaryFileCloser",
        "state": {"file": {}, "name": str(victim), "delete": True, "close_called": False},
    }
    with pytest.raises(SerializationError, match="not a known type"):
        JSON.from_document(document)
    gc.collect()
    assert victim.read_text() == "keep me"


def test_stored_kind_must_still_match() -> None:
    document = JSON.to_document(Plain("x"))
    document["class"] = document["class"].replace(":Plain", ":Color")
    with pytest.raises(SerializationError, match="stored as object but is now an enum"):
        JSON.from_document(document)


MALFORMED: list[Any] = [
    {"$type": "no-such-tag"},
    {"$type": 3},
    {"$type": "tuple"},
    {"$type": "tuple", "items": 5},
    {"$type": "tuple", "items": [], "extra": 1},
    {"$type": "set", "items": [[1, 2]]},
    {"$type": "dict", "items": [[1]]},
    {"$type": "dict", "items": [[[1], 2]]},
    {"$type": "dict", "items": "nope"},
    {"$type": "datetime", "value": "yesterday"},
    {"$type": "datetime", "value": 5},
    {"$type": "datetime", "value": "2026-01-01T00:00:00", "fold": 7},
    {"$type": "date", "value": "2026-13-01"},
    {"$type": "time", "value": "25:00"},
    {"$type": "timedelta", "days": 1},
    {"$type": "timedelta", "days": 10**12, "seconds": 0, "microseconds": 0},
    {"$type": "timedelta", "days": True, "seconds": 0, "microseconds": 0},
    {"$type": "decimal", "value": "one"},
    {"$type": "uuid", "value": "not-a-uuid"},
    {"$type": "bytes", "value": "***"},
    {"$type": "int", "value": "12x"},
    {"$type": "float", "value": "1.5"},
    {"$type": "complex", "real": "a", "imag": 0},
    {"$type": "object", "class": 5, "state": {}},
    {"$type": "object", "class": "no-colon", "state": {}},
    {"$type": "object", "class": ":Plain", "state": {}},
    {"$type": "object", "class": "os.path:join.__globals__", "state": {}},
    {"$type": "object", "class": "json:<locals>.X", "state": {}},
    {"$type": "enum", "class": "enum:Enum"},
    [1, {"x": ("not", "json")}],
    {1: "non-string key"},
    object(),
]


@pytest.mark.parametrize("document", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_malformed_documents_raise_serialization_error(document: Any) -> None:
    with pytest.raises(SerializationError):
        JSON.from_document(document)


def test_malformed_object_state_is_reported_with_its_path() -> None:
    document = JSON.to_document(Holder(slot=Slotted(1, 2, 3)))
    document["state"]["slot"]["state"]["not_a_slot"] = 1
    with pytest.raises(SerializationError, match=r"no slot named 'not_a_slot'.*document\.slot\.not_a_slot"):
        JSON.from_document(document)
    namedtuple_doc = JSON.to_document(Pair(1, 2))
    namedtuple_doc["items"].append(3)
    with pytest.raises(SerializationError, match="3 items but the class now has 2 fields"):
        JSON.from_document(namedtuple_doc)


def test_invalid_json_text_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match="not valid JSON"):
        JSON.loads("{not json")


# --------------------------------------------------------------------- pickle (opt-in only)


def test_default_serializer_is_json_not_pickle() -> None:
    assert isinstance(DEFAULT_SERIALIZER, JsonSerializer)
    assert not isinstance(DEFAULT_SERIALIZER, PickleSerializer)
    assert set(serialization.__all__) == {
        "Serializer",
        "JsonSerializer",
        "PickleSerializer",
        "DEFAULT_SERIALIZER",
        "register_type",
    }


def test_pickle_serializer_round_trips_what_json_cannot() -> None:
    pickler = PickleSerializer()
    value = {
        "fn": module_level_function,
        "counts": collections.defaultdict(list, {"a": [1]}),
        "order": collections.OrderedDict(b=2, a=1),
    }
    with pytest.raises(SerializationError):
        JSON.to_document(value)
    document = pickler.to_document(value, "data")
    assert set(document) == {"$pickle"} and isinstance(document["$pickle"], str)
    loaded = roundtrip(value, pickler)
    assert loaded["fn"] is module_level_function
    assert loaded["fn"](4) == 8
    assert type(loaded["counts"]) is collections.defaultdict and loaded["counts"]["a"] == [1]
    assert loaded["order"] == value["order"]


def test_pickle_serializer_errors_are_serialization_errors() -> None:
    pickler = PickleSerializer()
    with pytest.raises(SerializationError, match=r"'function' at data"):
        pickler.to_document(lambda: 1, "data")
    with pytest.raises(SerializationError):
        pickler.from_document({"$type": "object"})
    with pytest.raises(SerializationError):
        pickler.from_document({"$pickle": "bm90IGEgcGlja2xl"})


def test_pickle_serializer_caps_payloads_both_ways() -> None:
    small = PickleSerializer(max_size=100)
    with pytest.raises(SerializationError, match="larger than 100 characters"):
        small.to_document("x" * 1000, "data")
    document = PickleSerializer().to_document("x" * 1000)
    with pytest.raises(SerializationError, match="larger than 100 characters"):
        small.from_document(document)
