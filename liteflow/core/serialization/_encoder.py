"""Storing: a value becomes a JSON-safe document, counted against the limits as it is built."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ._classes import EnumPlan, ObjectPlan, enum_refusal, member_value, plan_for
from ._hashing import check_hashed_items
from ._introspect import qualname, type_name
from ._known import KNOWN_TYPES
from ._limits import Limits, Walk
from ._paths import PathError, describe
from ._values import LEAF_ENCODERS, TAG, bytes_document, float_document, int_document, tag_size

__all__ = ["Encoder"]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_NO_KEY: Any = object()


def _plain_keys(value: dict[Any, Any]) -> bool:
    """Keys that can be a JSON object's own: text, and never mistaken for a tag."""
    for key in value:  # noqa: SIM110 - a loop: all() over a generator is slower on this hot path
        if type(key) is not str or key.startswith("$"):
            return False
    return True


class Encoder(Walk):
    """One document being written, and the containers it already holds.

    A mutable container (list, dict, set, bytearray, object) met a second time is written as
    ``{"$type": "ref", "id": n}``, n counting such containers in the order they were first
    written, so the loader rebuilds the sharing; met again while inside itself, it is a cycle.
    """

    __slots__ = ("_active", "_numbers")

    unstorable_text = (
        "cannot store text with a lone surrogate",
        ": stores keep text as UTF-8, which cannot encode it",
    )

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self._numbers: dict[int, int] = {}  # by id: the value being written keeps them all alive
        self._active: set[int] = set()

    def encode(self, value: Any) -> Any:
        self._items += 1
        if self._items > self._max_items:
            raise self._limits.too_many()
        cls = type(value)
        if cls is str:
            self._size += len(value)  # count_text(), inlined: the hot path
            if self._size > self._max_size or not value.isascii():
                self.check_text(value)
            return value
        if cls is bool or value is None:
            return value
        if cls is int:
            return value if _INT64_MIN <= value <= _INT64_MAX else self._tagged(int_document(value))
        if cls is float:
            return value if math.isfinite(value) else self._tagged(float_document(value))
        leaf = LEAF_ENCODERS.get(cls)
        if leaf is not None:
            return self._tagged(leaf(value))
        marker = id(value)
        number = self._numbers.get(marker)
        if number is not None:
            if marker in self._active:
                raise PathError("cycle detected", ": the value contains itself (directly or indirectly)")
            return self._tagged({TAG: "ref", "id": number})
        if cls is bytearray:
            self._numbers[marker] = len(self._numbers)
            return self._tagged(bytes_document("bytearray", value))
        self.enter()
        if cls is dict:
            doc = self._dict(value, marker)
        elif cls is list:
            self._open(marker)
            doc = self._items_of(value)
            self._active.discard(marker)
        elif cls is tuple:
            doc = self._tagged({TAG: "tuple", "items": self._items_of(value)})
        elif cls is set or cls is frozenset:
            doc = self._set(value, cls, marker)
        else:
            doc = self._object(value, cls, marker)
        self.leave()
        return doc

    def _tagged(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.count_size(tag_size(doc))
        return doc

    def _open(self, marker: int) -> None:
        """Number a container whose items are written next: meeting it among them is a cycle."""
        self._numbers[marker] = len(self._numbers)
        self._active.add(marker)

    def _items_of(self, value: Iterable[Any]) -> list[Any]:
        out: list[Any] = []
        try:
            for item in value:
                out.append(self.encode(item))
        except PathError as failure:
            failure.segments.append(f"[{len(out)}]")
            raise
        return out

    def _dict(self, value: dict[Any, Any], marker: int) -> Any:
        self._open(marker)
        key: Any = _NO_KEY
        in_key = False
        try:
            if _plain_keys(value):
                doc: Any = {}
                for key, item in value.items():
                    self._size += len(key)  # count_text(), inlined
                    if self._size > self._max_size or not key.isascii():
                        self.check_text(key)
                    doc[key] = self.encode(item)
            else:
                check_hashed_items(value.keys(), "dict key")
                pairs: list[list[Any]] = []
                for key, item in value.items():
                    in_key = True
                    key_doc = self.encode(key)
                    in_key = False
                    pairs.append([key_doc, self.encode(item)])
                doc = self._tagged({TAG: "dict", "items": pairs})
        except PathError as failure:
            if key is not _NO_KEY:
                failure.segments.append(f"[<key {describe(key)}>]" if in_key else f"[{describe(key)}]")
            raise
        self._active.discard(marker)
        return doc

    def _set(self, value: set[Any] | frozenset[Any], cls: type, marker: int) -> Any:
        check_hashed_items(value, "set item")
        if cls is set:
            self._numbers[marker] = len(self._numbers)  # its items are plain values: none holds it
        return self._tagged({TAG: "set" if cls is set else "frozenset", "items": self._items_of(value)})

    def _object(self, value: Any, cls: type, marker: int) -> Any:
        plan = plan_for(cls)
        if isinstance(plan, str):
            raise PathError(f"cannot store value of type '{qualname(cls)}'", f": {plan}")
        name = KNOWN_TYPES.stored_name(cls)
        if name is None:
            raise PathError(f"cannot store value of type '{qualname(cls)}'", f": {KNOWN_TYPES.refusal(cls)}")
        if isinstance(plan, EnumPlan):
            return self._enum(value, plan, name)
        if plan.tag == "namedtuple":
            doc: dict[str, Any] = {TAG: "namedtuple", "class": name, "items": self._items_of(value)}
            if plan.dict_slot is not None and plan.dict_slot.__get__(value, cls):
                doc["state"] = self._state(value, plan)
            return self._tagged(doc)
        self._open(marker)
        doc = self._tagged({TAG: plan.tag, "class": name, "state": self._state(value, plan)})
        self._active.discard(marker)
        return doc

    def _enum(self, member: Any, plan: EnumPlan, name: str) -> Any:
        refusal = enum_refusal(plan, member)
        if refusal is not None:
            raise PathError(f"cannot store enum member of '{qualname(plan.cls)}'", f": {refusal}")
        try:
            return self._tagged({TAG: "enum", "class": name, "value": self.encode(member_value(member))})
        except PathError as failure:
            failure.segments.append(".value")
            raise

    def _state(self, value: Any, plan: ObjectPlan) -> dict[str, Any]:
        state: dict[str, Any] = {}
        name: Any = None
        try:
            if plan.dict_slot is not None:
                for name, item in plan.dict_slot.__get__(value, plan.cls).items():
                    if type(name) is not str:
                        raise PathError(
                            f"cannot store attribute name of type '{type_name(name)}'",
                            ": attribute names must be strings",
                        )
                    self.count_text(name)
                    state[name] = self.encode(item)
            for name, descriptor in plan.slots:
                try:
                    item = descriptor.__get__(value, plan.cls)
                except AttributeError:  # unset slot: leave it unset on load too
                    continue
                self.count_text(name)
                state[name] = self.encode(item)
        except PathError as failure:
            failure.segments.append(f".{name}" if type(name) is str else f".<{type_name(name)}>")
            raise
        return state
