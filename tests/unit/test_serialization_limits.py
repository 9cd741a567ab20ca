"""The same limits when storing and when loading: whatever is stored loads back, nothing else does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from liteflow.core import (
    InvalidArgumentError,
    SerializationError,
    register_type,
)
from liteflow.core.serialization import JsonSerializer
from tests.support import load_crafted_data

JSON = JsonSerializer()


@register_type
@dataclass
class Node:
    name: str
    children: list[Any] = field(default_factory=list)
    tags: frozenset[str] = frozenset()


@register_type
class Box:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __eq__(self, other: object) -> bool:
        return type(other) is Box and other.inner == self.inner

    __hash__ = None  # type: ignore[assignment]


def _shared() -> Any:
    leaf = Node("leaf", tags=frozenset({"a", "b"}))
    return {"left": [leaf, leaf], "right": Node("root", [leaf, {"again": leaf}])}


SAMPLES: list[tuple[str, Any]] = [
    ("nested-lists", [[[[["deep"]]]], [], [1, 2.5, None]]),
    ("tuples-in-sets", {(1, "a"), (2, "b"), frozenset({3})}),
    ("non-text-keys", {1: "one", (2, 3): [4], "$dollar": {"x": b"\x00\x01"}}),
    ("objects", Node("root", [Node("child", [Node("grandchild")])], frozenset({"t"}))),
    ("shared", _shared()),
    ("standard-values", [datetime(2026, 1, 2, tzinfo=timezone.utc), Decimal("1.50"), 2**80, complex(1, 2)]),
    ("long-text", "x" * 3000),
]


def _smallest_limit(limit: str, value: Any, ceiling: int) -> int:
    """The smallest value of `limit` with which `value` can still be stored (binary search)."""
    low, high = 1, ceiling
    while low < high:
        middle = (low + high) // 2
        try:
            JsonSerializer(**{limit: middle}).to_document(value)
        except SerializationError:
            low = middle + 1
        else:
            high = middle
    return low


@pytest.mark.parametrize(
    ("limit", "ceiling"), [("max_depth", 200), ("max_size", 100_000), ("max_items", 10_000)]
)
@pytest.mark.parametrize("value", [value for _, value in SAMPLES], ids=[name for name, _ in SAMPLES])
def test_a_value_stored_at_the_limit_loads_back_and_one_less_refuses_both_ways(
    limit: str, ceiling: int, value: Any
) -> None:
    exact = _smallest_limit(limit, value, ceiling)
    assert exact < ceiling
    at_limit = JsonSerializer(**{limit: exact})
    document = json.loads(json.dumps(at_limit.to_document(value)))
    assert at_limit.from_document(document) == value
    if exact > 1:
        below = JsonSerializer(**{limit: exact - 1})
        with pytest.raises(SerializationError, match=limit):
            below.to_document(value)
        with pytest.raises(SerializationError, match=limit):
            below.from_document(document)


def _nested(levels: int, make: Callable[[Any], Any]) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = make(value)
    return value


def test_the_default_depth_is_100_levels_counted_on_both_sides() -> None:
    makers: list[Callable[[Any], Any]] = [
        lambda inner: [inner],
        lambda inner: (inner,),
        lambda inner: {"k": inner},
        lambda inner: {1: inner},
        Box,
    ]
    for make in makers:
        deepest = _nested(100, make)
        assert JSON.from_document(JSON.to_document(deepest)) == deepest
        with pytest.raises(SerializationError, match="nested more than 100 levels deep"):
            JSON.to_document(make(deepest))
    with pytest.raises(SerializationError, match=r"nested more than 100 levels deep at data\[0\]\[0\]"):
        JSON.to_document(_nested(101, lambda inner: [inner]), "data")


def test_tuples_nested_beyond_the_limit_are_refused_when_stored_not_when_loaded() -> None:
    with pytest.raises(SerializationError, match="nested more than 100 levels deep"):
        JSON.to_document(_nested(400, lambda inner: (inner,)))


@pytest.mark.parametrize("levels", [101, 5_000, 200_000])
def test_a_crafted_document_nested_too_deeply_is_a_serialization_error(tmp_path: Path, levels: int) -> None:
    text = "[" * levels + "]" * levels
    with pytest.raises(SerializationError, match="nested"):
        JSON.loads(text)
    with pytest.raises(SerializationError):
        load_crafted_data(tmp_path / "crafted.db", text)


def test_size_and_items_are_refused_with_the_limit_that_was_passed() -> None:
    small = JsonSerializer(max_size=10, max_items=5)
    with pytest.raises(
        SerializationError, match=r"larger than 10 characters at data\[1\] \(the serializer's max_size"
    ):
        small.to_document(["12345", "678901"], "data")
    with pytest.raises(SerializationError, match=r"more than 5 items .*max_items"):
        small.to_document([1, 2, 3, 4, 5], "data")
    with pytest.raises(SerializationError, match="max_items"):
        small.from_document([1, 2, 3, 4, 5])


@pytest.mark.parametrize(
    "arguments",
    [{"max_depth": 0}, {"max_depth": 201}, {"max_size": -1}, {"max_items": 1.5}, {"max_items": True}],
)
def test_bad_limits_are_refused_when_the_serializer_is_made(arguments: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match=next(iter(arguments))):
        JsonSerializer(**arguments)


# ------------------------------------------------------------------ hash flooding

_MODULUS = 2**61 - 1  # every multiple of it hashes to 0


@pytest.mark.parametrize(
    "document",
    [
        {"$type": "set", "items": [n * _MODULUS for n in range(40_000)]},
        {"$type": "frozenset", "items": [n * _MODULUS for n in range(40_000)]},
        {"$type": "dict", "items": [[n * _MODULUS, n] for n in range(40_000)]},
        {"$type": "set", "items": [{"$type": "tuple", "items": [n * _MODULUS]} for n in range(40_000)]},
    ],
    ids=["set", "frozenset", "dict-keys", "tuples"],
)
def test_items_that_all_hash_alike_are_refused_quickly(tmp_path: Path, document: dict[str, Any]) -> None:
    # CPU time, not wall time: other processes sharing the cores must not fail it. Loading
    # them all would take tens of seconds; refusing takes about 10 ms idle, up to ~0.7 s under heavy load.
    text = json.dumps(document)
    started = time.process_time()
    with pytest.raises(SerializationError, match="share a hash"):
        JSON.loads(text)
    assert time.process_time() - started < 2
    started = time.process_time()
    with pytest.raises(SerializationError, match="share a hash"):
        load_crafted_data(tmp_path / "crafted.db", text)
    assert time.process_time() - started < 2


def test_items_that_hash_alike_are_refused_when_stored_too() -> None:
    colliding = {n * _MODULUS for n in range(100)}
    with pytest.raises(SerializationError, match=r"set items of which 99 share a hash .*hash flooding"):
        JSON.to_document(colliding)
    with pytest.raises(SerializationError, match="dict keys of which 99 share a hash"):
        JSON.to_document(dict.fromkeys(colliding, 1))


def test_a_large_ordinary_set_loads_quickly() -> None:
    document = JSON.to_document(set(range(40_000)))
    started = time.process_time()
    assert JSON.from_document(document) == set(range(40_000))
    assert time.process_time() - started < 0.5


def test_a_set_holding_an_item_twice_is_malformed() -> None:
    with pytest.raises(SerializationError, match="holds an item twice"):
        JSON.from_document({"$type": "set", "items": [1, 1]})
    with pytest.raises(SerializationError, match="holds a key twice"):
        JSON.from_document({"$type": "dict", "items": [[1, "a"], [1, "b"]]})
