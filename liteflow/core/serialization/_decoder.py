"""Loading: a stored document becomes values again, counted against the same limits as storing.

Nothing a document names is imported, looked up in a module or called: classes come from
the known types only, and are rebuilt as `._classes` describes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ._classes import EnumPlan, ObjectPlan, Plan, enum_member, plan_for
from ._hashing import check_hashed_items
from ._introspect import type_name
from ._known import KNOWN_TYPES
from ._limits import Limits, Walk
from ._paths import PathError, describe
from ._values import LEAF_DECODERS, TAG, decode_bytes, tag_keys, tag_size

__all__ = ["Decoder"]

_T = TypeVar("_T")


class Decoder(Walk):
    """One document being read, and the containers numbered for ``ref``s."""

    __slots__ = ("_plans", "_shared")

    unstorable_text = ("malformed document: text with a lone surrogate", "")

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        # Mutable containers, numbered in the order they start; None while still being read.
        self._shared: list[Any] = []
        self._plans: dict[str, Plan] = {}  # by stored name: a list of objects resolves its class once

    def decode(self, doc: Any) -> Any:
        self._items += 1
        if self._items > self._max_items:
            raise self._limits.too_many()
        cls = type(doc)
        if cls is str:
            self._size += len(doc)  # count_text(), inlined: the hot path
            if self._size > self._max_size or not doc.isascii():
                self.check_text(doc)
            return doc
        if cls is int or cls is float or cls is bool or doc is None:
            return doc
        if cls is list or (cls is dict and TAG not in doc):
            self.enter()
            shared = self._shared
            number = len(shared)
            shared.append(None)
            doc = shared[number] = self.decode_all(doc) if cls is list else self._plain_dict(doc)
            self.leave()
            return doc
        if cls is not dict:
            raise PathError(f"malformed document: unexpected {type_name(doc)} value")
        tag = doc[TAG]
        if type(tag) is str:
            leaf = LEAF_DECODERS.get(tag)
            if leaf is not None:
                self._tag(doc, leaf[0])
                return leaf[1](doc)
            entry = _DECODERS.get(tag)
            if entry is not None:
                keys, decode, nests = entry
                self._tag(doc, keys)
                if not nests:
                    return decode(self, doc)
                self.enter()
                doc = decode(self, doc)
                self.leave()
                return doc
        raise PathError(f"malformed document: unknown {TAG} {describe(tag)}")

    def _tag(self, doc: dict[str, Any], keys: frozenset[str]) -> None:
        if not doc.keys() <= keys:
            extra = [key for key in doc if key not in keys]
            shown = ", ".join(describe(key) for key in extra[:5])
            raise PathError(f"malformed document: unexpected keys {shown} in '{doc[TAG]}'")
        self.count_size(tag_size(doc))

    def _plain_dict(self, doc: dict[Any, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        key: Any = None
        try:
            for key, item in doc.items():
                if type(key) is not str:
                    raise PathError(f"malformed document: object key of type '{type_name(key)}'")
                if key.startswith("$"):
                    raise PathError(_dollar_key(key))
                self._size += len(key)  # count_text(), inlined
                if self._size > self._max_size or not key.isascii():
                    self.check_text(key)
                out[key] = self.decode(item)
        except PathError as failure:
            failure.segments.append(f"[{describe(key)}]")
            raise
        return out

    def reserve(self) -> int:
        """Number a mutable container as it starts, as the encoder did."""
        self._shared.append(None)
        return len(self._shared) - 1

    def fill(self, number: int, value: _T) -> _T:
        self._shared[number] = value
        return value

    def reference(self, doc: dict[str, Any]) -> Any:
        number = doc.get("id")
        if type(number) is not int or not 0 <= number < len(self._shared) or self._shared[number] is None:
            raise PathError(
                "malformed document: a 'ref' to no container read before it (or to one holding it)"
            )
        return self._shared[number]

    def items_of(self, doc: dict[str, Any]) -> list[Any]:
        return self.decode_all(_need_list(doc, "items"))

    def decode_all(self, docs: list[Any]) -> list[Any]:
        out: list[Any] = []
        try:
            for item in docs:
                out.append(self.decode(item))
        except PathError as failure:
            failure.segments.append(f"[{len(out)}]")
            raise
        return out

    def plan(self, doc: dict[str, Any], tags: tuple[str, ...]) -> Plan:
        """The plan of the known class a document names, if it was stored as one of `tags`."""
        name = doc.get("class")
        if type(name) is not str:
            raise PathError(f"malformed document: '{doc[TAG]}' needs a 'class' string")
        plan = self._plans.get(name)
        if plan is None:
            plan = self._plans[name] = _plan_of(name)
        if plan.tag not in tags:
            raise PathError(
                f"stored type {describe(name)} cannot be loaded",
                f": it was stored as {doc[TAG]} but is now {_article(plan.tag)}",
            )
        return plan

    def restore(self, obj: Any, plan: ObjectPlan, state: Any, doc: dict[str, Any]) -> None:
        """Set the stored attributes through the slot and __dict__ descriptors: no __setattr__ runs."""
        if type(state) is not dict:
            raise PathError(f"malformed document: '{doc[TAG]}' state must be an object")
        instance_dict = plan.dict_slot.__get__(obj, plan.cls) if plan.dict_slot is not None else None
        name: Any = None
        try:
            for name, item in state.items():
                if type(name) is not str:
                    raise PathError(f"malformed document: attribute name of type '{type_name(name)}'")
                self.count_text(name)
                value = self.decode(item)
                descriptor = plan.slot_map.get(name)
                if descriptor is not None:
                    descriptor.__set__(obj, value)
                elif instance_dict is not None:
                    instance_dict[name] = value
                else:
                    raise PathError(
                        f"stored type {describe(doc['class'])} cannot be loaded",
                        f": it has no slot named {describe(name)} and no __dict__",
                    )
        except PathError as failure:
            failure.segments.append(f".{name}" if type(name) is str else "")
            raise


def _plan_of(name: str) -> Plan:
    cls = KNOWN_TYPES.resolve(name)
    if cls is None:
        raise PathError(
            f"stored type {describe(name)} cannot be loaded",
            ": it is not a known type (loading never imports a module; make the class known "
            "with liteflow.core.register_type, or define it in the package of a registered "
            "workflow, imported on this node)",
        )
    plan = plan_for(cls)
    if isinstance(plan, str):
        raise PathError(f"stored type {describe(name)} cannot be loaded", f": {plan}")
    return plan


def _article(tag: str) -> str:
    return {"enum": "an enum", "object": "a plain class"}.get(tag, f"a {tag}")


def _need_list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    if type(value) is not list:
        raise PathError(f"malformed document: '{doc[TAG]}' needs a list '{key}'")
    return value


def _dollar_key(key: str) -> str:
    if key == "$pickle":
        return (
            "this payload was written by PickleSerializer, and JsonSerializer does not load pickles "
            "(loading one runs code); read this store with the serializer that wrote it"
        )
    return f"malformed document: object key {describe(key)} (keys starting with '$' are stored tagged)"


def _tuple(decoder: Decoder, doc: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(decoder.items_of(doc))


def _set(decoder: Decoder, doc: dict[str, Any]) -> Any:
    number = decoder.reserve() if doc[TAG] == "set" else None
    items = decoder.items_of(doc)
    check_hashed_items(items, "set item")
    result = set(items) if number is not None else frozenset(items)
    if len(result) != len(items):
        raise PathError(f"malformed document: '{doc[TAG]}' holds an item twice")
    return result if number is None else decoder.fill(number, result)


def _dict(decoder: Decoder, doc: dict[str, Any]) -> dict[Any, Any]:
    number = decoder.reserve()
    keys: list[Any] = []
    values: list[Any] = []
    try:
        for pair in _need_list(doc, "items"):
            if type(pair) is not list or len(pair) != 2:
                raise PathError("malformed document: 'dict' items must be [key, value] pairs")
            keys.append(decoder.decode(pair[0]))
            values.append(decoder.decode(pair[1]))
    except PathError as failure:
        failure.segments.append(f"[{len(values)}]")
        raise
    check_hashed_items(keys, "dict key")
    out = dict(zip(keys, values, strict=True))
    if len(out) != len(keys):
        raise PathError("malformed document: 'dict' holds a key twice")
    return decoder.fill(number, out)


def _bytearray(decoder: Decoder, doc: dict[str, Any]) -> bytearray:
    return decoder.fill(decoder.reserve(), bytearray(decode_bytes(doc)))


def _reference(decoder: Decoder, doc: dict[str, Any]) -> Any:
    return decoder.reference(doc)


def _enum(decoder: Decoder, doc: dict[str, Any]) -> Any:
    plan = cast(EnumPlan, decoder.plan(doc, ("enum",)))
    if "value" not in doc:
        raise PathError("malformed document: 'enum' needs a 'value'")
    try:
        value = decoder.decode(doc["value"])
    except PathError as failure:
        failure.segments.append(".value")
        raise
    member = enum_member(plan, value)
    if member is None:
        raise PathError(
            f"stored type {describe(doc['class'])} cannot be loaded",
            f": it has no member with value {describe(value)}",
        )
    return member


def _object(decoder: Decoder, doc: dict[str, Any]) -> Any:
    plan = cast(ObjectPlan, decoder.plan(doc, ("object", "dataclass")))
    number = decoder.reserve()
    try:
        obj: Any = object.__new__(plan.cls)
    except TypeError as exc:  # e.g. the class became abstract since the value was stored
        raise PathError(f"stored type {describe(doc['class'])} cannot be loaded", f": {exc}", exc) from None
    decoder.restore(obj, plan, doc.get("state"), doc)
    return decoder.fill(number, obj)


def _namedtuple(decoder: Decoder, doc: dict[str, Any]) -> Any:
    plan = cast(ObjectPlan, decoder.plan(doc, ("namedtuple",)))
    items = decoder.items_of(doc)
    if len(items) != plan.fields:
        raise PathError(
            f"stored type {describe(doc['class'])} cannot be loaded",
            f": stored {len(items)} items but the class now has {plan.fields} fields",
        )
    obj: Any = tuple.__new__(plan.cls, items)
    if "state" in doc:
        decoder.restore(obj, plan, doc["state"], doc)
    return obj


_ITEMS = tag_keys("items")
_CLASS_STATE = tag_keys("class", "state")

# tag -> (the keys its document may have, the decoder, whether it nests values)
_DECODERS: dict[str, tuple[frozenset[str], Callable[[Decoder, Any], Any], bool]] = {
    "tuple": (_ITEMS, _tuple, True),
    "set": (_ITEMS, _set, True),
    "frozenset": (_ITEMS, _set, True),
    "dict": (_ITEMS, _dict, True),
    "enum": (tag_keys("class", "value"), _enum, True),
    "namedtuple": (tag_keys("class", "items", "state"), _namedtuple, True),
    "dataclass": (_CLASS_STATE, _object, True),
    "object": (_CLASS_STATE, _object, True),
    "bytearray": (tag_keys("value"), _bytearray, False),
    "ref": (tag_keys("id"), _reference, False),
}
