"""Turn user values into JSON-safe documents and back, so durable providers never need pickle.

Durable providers (SQLite, MongoDB) store workflow data, step persistence data, event data
and execution-pointer context items as JSON. :class:`JsonSerializer` keeps whatever is
already JSON as plain JSON, so stored rows stay readable and queryable, and tags the rest.

Tag scheme
----------
Stored as themselves:

* ``None``, ``bool``, ``str``, finite ``float``, and ``int`` within the signed 64-bit range
  (the most BSON can hold);
* ``list``, as a JSON array;
* ``dict`` whose keys are all ``str`` and none starts with ``"$"``, as a JSON object.

Everything else is a JSON object with a ``"$type"`` key. A plain object never has one,
because dicts with ``$``-prefixed keys are themselves tagged (MongoDB also rejects such
field names, so this keeps documents BSON-friendly)::

    $type        other keys
    -----------  ----------------------------------------------------------------------
    int          value: decimal string                 (ints outside the 64-bit range)
    float        value: "nan" | "inf" | "-inf"          (non-finite floats only)
    complex      real, imag: numbers (tagged floats when not finite)
    tuple        items: [doc, ...]
    set          items: [doc, ...]
    frozenset    items: [doc, ...]
    dict         items: [[key doc, value doc], ...]     (non-str or "$"-prefixed keys)
    bytes        value: base64 string
    bytearray    value: base64 string
    datetime     value: ISO 8601, offset kept exactly; optional zone: IANA key, fold: 1
    date         value: ISO 8601
    time         value: ISO 8601; optional zone: IANA key, fold: 1
    timedelta    days, seconds, microseconds: ints
    decimal      value: str(Decimal)
    uuid         value: canonical string
    enum         class: "module:qualname", value: doc of the member's value
    namedtuple   class, items: [doc, ...]
    dataclass    class, state: {attribute: doc, ...}
    object       class, state: {attribute: doc, ...}

For example ``{"$type": "datetime", "value": "2026-01-02T03:04:05.123456+00:00"}`` or
``{"$type": "object", "class": "myapp.models:MyData", "state": {"name": "x"}}``.

Loading objects
---------------
``class`` is resolved with :func:`importlib.import_module` and a walk of the qualname;
nothing named by a document is ever called. Only Python-defined plain classes,
dataclasses, named tuples and enums are rebuilt: the instance is made with
``object.__new__`` (``tuple.__new__`` for named tuples) and its ``__dict__`` and slots
are filled in directly, so ``__init__``, ``__post_init__``, ``__setstate__`` and
``__reduce__`` never run. Enum members are looked up by value in the class. Classes that
build on a built-in or extension type (other than ``tuple`` for named tuples), classes
with a ``__del__`` finalizer, and classes defined inside functions are refused, both when
storing and when loading. Decisions are cached per class, so the hot path does no
introspection.

What is not kept: object identity (a value shared twice is stored twice), the name of a
fixed-offset ``timezone``, and tzinfo classes other than ``timezone`` and ``ZoneInfo``
(those come back as a fixed offset). Loading still imports the module a document names;
pass ``allowed_modules`` when the store may hold documents you did not write.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import importlib
import json
import math
import pickle
import types
import typing
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import SerializationError

__all__ = ["DEFAULT_SERIALIZER", "JsonSerializer", "PickleSerializer", "Serializer"]

_TAG = "$type"
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE
_IMMUTABLETYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE (3.10+): set on built-in/extension types
_MISSING: Any = object()

# Values of these kinds are behaviour or live resources, not data: say so plainly.
_REFUSED_KINDS: tuple[tuple[tuple[type, ...], str], ...] = (
    (
        (
            types.FunctionType,
            types.BuiltinFunctionType,
            types.MethodType,
            types.MethodWrapperType,
            types.WrapperDescriptorType,
            types.MethodDescriptorType,
            types.ClassMethodDescriptorType,
            type,
        ),
        "functions, methods and classes are code, not data; store a name or key and look it up instead",
    ),
    (
        (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType),
        "generators and coroutines cannot be stored; store the values they produce instead",
    ),
    ((types.ModuleType,), "modules cannot be stored; store the module name instead"),
)
# Built-in bases a stored class may have besides Python-defined ones (Generic is C from 3.12).
_NEUTRAL_BASES: frozenset[type] = frozenset((object, typing.Generic))


class Serializer(ABC):
    """Turns user values into JSON-safe documents (dict/list/str/int/float/bool/None only) and back."""

    @abstractmethod
    def to_document(self, value: Any, path: str = "value") -> Any:
        """Return a JSON-safe (and BSON-friendly) structure; ``path`` names the value in errors."""

    @abstractmethod
    def from_document(self, document: Any) -> Any:
        """Rebuild the value that :meth:`to_document` produced."""

    def dumps(self, value: Any, path: str = "value") -> str:
        """Compact JSON text; non-ASCII stays readable, NaN never leaks as invalid JSON."""
        document = self.to_document(value, path)
        try:
            return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"cannot store value at {path}: {exc}") from exc

    def loads(self, text: str) -> Any:
        try:
            document = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"stored document is not valid JSON: {exc}") from exc
        return self.from_document(document)


class _PathError(Exception):
    """Carries an error up the recursion so each level can add its path segment cheaply."""

    def __init__(self, head: str, tail: str = "", cause: BaseException | None = None) -> None:
        super().__init__(head)
        self.head = head
        self.tail = tail
        self.cause = cause
        self.segments: list[str] = []

    def path(self, root: str) -> str:
        return root + "".join(reversed(self.segments))


@dataclasses.dataclass(frozen=True, slots=True)
class _ClassPlan:
    """What was decided once per class, so the hot path does no introspection."""

    tag: str  # "enum" | "namedtuple" | "dataclass" | "object"
    name: str  # "module:qualname"
    has_dict: bool
    slots: tuple[tuple[str, Any], ...]  # (attribute name, member descriptor)
    slot_map: dict[str, Any]


def _key_repr(key: Any) -> str:
    try:
        text = repr(key)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(key).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _is_python_class(cls: type) -> bool:
    """Python-defined classes are mutable heap types; built-in and extension types are not."""
    flags = cls.__flags__
    return bool(flags & _HEAPTYPE) and not flags & _IMMUTABLETYPE


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _slot_descriptors(cls: type) -> tuple[tuple[str, Any], ...]:
    """Member descriptors carry the mangled names, so ``__private`` slots work too."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if "__slots__" not in vars(klass):
            continue
        for name, attr in vars(klass).items():
            if isinstance(attr, types.MemberDescriptorType) and name not in ("__weakref__", "__dict__"):
                found[name] = attr
    return tuple(found.items())


def _float_document(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {_TAG: "float", "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _zone_key(tz: Any) -> str | None:
    if type(tz) is ZoneInfo:
        key: str | None = tz.key
        return key
    return None


def _datetime_document(value: datetime) -> Any:
    doc: dict[str, Any] = {_TAG: "datetime", "value": value.isoformat()}
    zone = _zone_key(value.tzinfo)
    if zone is not None:
        doc["zone"] = zone
    elif value.fold:
        doc["fold"] = 1
    return doc


def _time_document(value: time) -> Any:
    doc: dict[str, Any] = {_TAG: "time", "value": value.isoformat()}
    zone = _zone_key(value.tzinfo)
    if zone is not None:
        doc["value"] = value.replace(tzinfo=None).isoformat()
        doc["zone"] = zone
    if value.fold:
        doc["fold"] = 1
    return doc


def _b64(value: bytes | bytearray) -> str:
    return base64.b64encode(value).decode("ascii")


# Leaf types that need no recursion, dispatched on the exact type (subclasses are refused).
_LEAF_ENCODERS: dict[type, Callable[[Any], Any]] = {
    datetime: _datetime_document,
    date: lambda v: {_TAG: "date", "value": v.isoformat()},
    time: _time_document,
    timedelta: lambda v: {
        _TAG: "timedelta",
        "days": v.days,
        "seconds": v.seconds,
        "microseconds": v.microseconds,
    },
    Decimal: lambda v: {_TAG: "decimal", "value": str(v)},
    uuid.UUID: lambda v: {_TAG: "uuid", "value": str(v)},
    bytes: lambda v: {_TAG: "bytes", "value": _b64(v)},
    bytearray: lambda v: {_TAG: "bytearray", "value": _b64(v)},
    complex: lambda v: {_TAG: "complex", "real": _float_document(v.real), "imag": _float_document(v.imag)},
}


class JsonSerializer(Serializer):
    """The default: readable JSON, no code execution on load, clear errors on both sides.

    ``allowed_modules``, when given, limits which modules (and their submodules) stored
    classes may come from, for both storing and loading; ``None`` allows any module.
    An instance is safe to share between threads: its caches only ever gain entries.
    """

    def __init__(self, allowed_modules: Iterable[str] | None = None) -> None:
        self._allowed: tuple[str, ...] | None = (
            None if allowed_modules is None else tuple(m.rstrip(".") for m in allowed_modules)
        )
        self._plans: dict[type, _ClassPlan | str] = {}
        self._classes: dict[str, type] = {}

    # ------------------------------------------------------------------ storing

    def to_document(self, value: Any, path: str = "value") -> Any:
        try:
            return self._encode(value, set())
        except _PathError as failure:
            raise SerializationError(
                f"{failure.head} at {failure.path(path)}{failure.tail}"
            ) from failure.cause
        except RecursionError:
            raise SerializationError(f"cannot store value at {path}: it is nested too deeply") from None

    def _encode(self, value: Any, active: set[int]) -> Any:
        cls = type(value)
        if cls is str or cls is bool or value is None:
            return value
        if cls is int:
            if _INT64_MIN <= value <= _INT64_MAX:
                return value
            return {_TAG: "int", "value": str(value)}
        if cls is float:
            return _float_document(value)
        if cls is dict:
            return self._encode_dict(value, active)
        if cls is list:
            return self._encode_list(value, active)
        leaf = _LEAF_ENCODERS.get(cls)
        if leaf is not None:
            return leaf(value)
        if cls is tuple:
            return {_TAG: "tuple", "items": self._encode_items(value, active)}
        if cls is set:
            return {_TAG: "set", "items": self._encode_items(value, active)}
        if cls is frozenset:
            return {_TAG: "frozenset", "items": self._encode_items(value, active)}
        plan = self._plans.get(cls)
        if plan is None:
            plan = self._plan_for(cls)
        if isinstance(plan, str):
            raise _PathError(f"cannot store value of type '{cls.__name__}'", f": {plan}")
        if plan.tag == "enum":
            return self._encode_enum(value, plan, active)
        return self._encode_object(value, plan, active)

    def _encode_list(self, value: list[Any], active: set[int]) -> list[Any]:
        marker = id(value)
        if marker in active:
            raise _PathError("cycle detected", ": the list contains itself (directly or indirectly)")
        active.add(marker)
        out: list[Any] = []
        try:
            for item in value:
                out.append(self._encode(item, active))
        except _PathError as failure:
            failure.segments.append(f"[{len(out)}]")
            raise
        finally:
            active.discard(marker)
        return out

    def _encode_items(self, value: Iterable[Any], active: set[int]) -> list[Any]:
        # tuples and sets are immutable or hold only hashables, so any cycle through them
        # also passes through a list, dict or object, which is where it gets caught.
        out: list[Any] = []
        try:
            for item in value:
                out.append(self._encode(item, active))
        except _PathError as failure:
            failure.segments.append(f"[{len(out)}]")
            raise
        return out

    def _encode_dict(self, value: dict[Any, Any], active: set[int]) -> Any:
        marker = id(value)
        if marker in active:
            raise _PathError("cycle detected", ": the dict contains itself (directly or indirectly)")
        active.add(marker)
        key: Any = None
        in_key = False
        try:
            plain: dict[str, Any] = {}
            for key, item in value.items():
                if type(key) is not str or key.startswith("$"):
                    break
                plain[key] = self._encode(item, active)
            else:
                return plain
            # Some key is not a plain JSON name: store [key, value] pairs instead.
            pairs: list[list[Any]] = []
            for key, item in value.items():
                in_key = True
                key_doc = self._encode(key, active)
                in_key = False
                pairs.append([key_doc, self._encode(item, active)])
            return {_TAG: "dict", "items": pairs}
        except _PathError as failure:
            failure.segments.append(f"[<key {_key_repr(key)}>]" if in_key else f"[{_key_repr(key)}]")
            raise
        finally:
            active.discard(marker)

    def _encode_enum(self, value: enum.Enum, plan: _ClassPlan, active: set[int]) -> Any:
        try:
            return {_TAG: "enum", "class": plan.name, "value": self._encode(value.value, active)}
        except _PathError as failure:
            failure.segments.append(".value")
            raise

    def _encode_object(self, value: Any, plan: _ClassPlan, active: set[int]) -> Any:
        marker = id(value)
        if marker in active:
            raise _PathError("cycle detected", ": the object refers back to itself (directly or indirectly)")
        active.add(marker)
        try:
            if plan.tag == "namedtuple":
                items = self._encode_items(value, active)
                doc: dict[str, Any] = {_TAG: "namedtuple", "class": plan.name, "items": items}
                if plan.has_dict and value.__dict__:
                    doc["state"] = self._encode_state(value, plan, active)
                return doc
            return {_TAG: plan.tag, "class": plan.name, "state": self._encode_state(value, plan, active)}
        finally:
            active.discard(marker)

    def _encode_state(self, value: Any, plan: _ClassPlan, active: set[int]) -> dict[str, Any]:
        state: dict[str, Any] = {}
        name: Any = None
        try:
            if plan.has_dict:
                for name, item in value.__dict__.items():
                    if type(name) is not str:
                        raise _PathError(
                            f"cannot store attribute name of type '{type(name).__name__}'",
                            ": attribute names must be strings",
                        )
                    state[name] = self._encode(item, active)
            for name, descriptor in plan.slots:
                try:
                    item = descriptor.__get__(value, type(value))
                except AttributeError:  # unset slot: leave it unset on load too
                    continue
                state[name] = self._encode(item, active)
        except _PathError as failure:
            failure.segments.append(f".{name}")
            raise
        return state

    def _plan_for(self, cls: type) -> _ClassPlan | str:
        """Decide once per class whether and how it is stored; a str is the refusal reason."""
        plan = self._decide(cls)
        self._plans[cls] = plan
        return plan

    def _decide(self, cls: type) -> _ClassPlan | str:
        for kinds, reason in _REFUSED_KINDS:
            if issubclass(cls, kinds):
                return reason
        if cls is object:
            return "a bare object() carries no data to store"
        if issubclass(cls, enum.Enum):
            tag = "enum"
        else:
            is_namedtuple = issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)
            for klass in cls.__mro__:
                if klass in _NEUTRAL_BASES or (is_namedtuple and klass is tuple) or _is_python_class(klass):
                    continue
                what = "is" if klass is cls else "builds on"
                return (
                    f"it {what} the built-in or extension type '{klass.__module__}.{klass.__qualname__}', "
                    "which JsonSerializer does not support; convert it to plain data first "
                    "(or opt in to PickleSerializer)"
                )
            if is_namedtuple:
                tag = "namedtuple"
            elif dataclasses.is_dataclass(cls):
                tag = "dataclass"
            else:
                tag = "object"
        if any("__del__" in vars(klass) for klass in cls.__mro__):
            return (
                "classes with a __del__ finalizer manage resources and are not stored as data "
                "(loading one would hand stored state to its finalizer); store plain data instead"
            )
        name = _class_name(cls)
        if "<locals>" in cls.__qualname__:
            return (
                f"class '{cls.__qualname__}' is defined inside a function, so it cannot be imported "
                "again when the value is loaded; define it at module level"
            )
        if not self._module_allowed(cls.__module__):
            return f"module '{cls.__module__}' is not in this serializer's allowed_modules"
        try:
            found = self._import_class(name)
        except _PathError as failure:
            return f"it cannot be found again by its name '{name}' ({failure.tail.lstrip(': ')})"
        if found is not cls:
            return f"'{name}' names a different class when looked up, so the value could not be loaded again"
        has_dict = tag != "enum" and cls.__dictoffset__ != 0
        slots = () if tag == "enum" else _slot_descriptors(cls)
        return _ClassPlan(tag=tag, name=name, has_dict=has_dict, slots=slots, slot_map=dict(slots))

    def _module_allowed(self, module: str) -> bool:
        if self._allowed is None:
            return True
        return any(module == prefix or module.startswith(prefix + ".") for prefix in self._allowed)

    # ------------------------------------------------------------------ loading

    def from_document(self, document: Any) -> Any:
        try:
            return self._decode(document)
        except _PathError as failure:
            where = f" (at {failure.path('document')})" if failure.segments else ""
            raise SerializationError(f"{failure.head}{failure.tail}{where}") from failure.cause
        except RecursionError:
            raise SerializationError("stored document is nested too deeply to load") from None
        except (LookupError, TypeError, ValueError, AttributeError) as exc:  # a shape no check foresaw
            raise SerializationError(f"malformed document: {exc!r}") from exc

    def _decode(self, doc: Any) -> Any:
        cls = type(doc)
        if cls is str or cls is int or cls is float or cls is bool or doc is None:
            return doc
        if cls is list:
            return self._decode_items(doc)
        if cls is not dict:
            raise _PathError(f"malformed document: unexpected {cls.__name__} value")
        tag = doc.get(_TAG, _MISSING)
        if tag is _MISSING:
            out: dict[str, Any] = {}
            key: Any = None
            try:
                for key, item in doc.items():
                    if type(key) is not str:
                        raise _PathError(f"malformed document: object key of type '{type(key).__name__}'")
                    out[key] = self._decode(item)
            except _PathError as failure:
                failure.segments.append(f"[{_key_repr(key)}]")
                raise
            return out
        decoder = _DECODERS.get(tag) if type(tag) is str else None
        if decoder is None:
            raise _PathError(f"malformed document: unknown {_TAG} {_key_repr(tag)}")
        return decoder(self, doc)

    def _decode_items(self, items: list[Any]) -> list[Any]:
        out: list[Any] = []
        try:
            for item in items:
                out.append(self._decode(item))
        except _PathError as failure:
            failure.segments.append(f"[{len(out)}]")
            raise
        return out

    def _import_class(self, name: str) -> type:
        """Resolve "module:qualname" by import and lookup only; nothing found is called."""
        cached = self._classes.get(name)
        if cached is not None:
            return cached
        head = f"stored type {_key_repr(name)} cannot be loaded"
        module_name, sep, qualname = name.partition(":")
        if not sep or not module_name or not qualname:
            raise _PathError(head, ": expected 'module:qualname'")
        if "<locals>" in qualname:
            raise _PathError(head, ": classes defined inside functions cannot be imported")
        if not self._module_allowed(module_name):
            raise _PathError(head, f": module '{module_name}' is not in this serializer's allowed_modules")
        try:
            target: Any = importlib.import_module(module_name)
        except Exception as exc:  # ImportError, or the module's own code failing
            raise _PathError(head, f": module '{module_name}' cannot be imported ({exc})", exc) from None
        owner = f"module '{module_name}'"
        walked: list[str] = []
        for part in qualname.split("."):
            if isinstance(target, types.ModuleType):
                found = getattr(target, part, _MISSING)
            elif isinstance(target, type):
                # vars(), not getattr(): no metaclass properties or descriptors run.
                found = vars(target).get(part, _MISSING)
            else:
                raise _PathError(head, f": {owner} is not a module or class")
            if found is _MISSING:
                raise _PathError(head, f": {owner} has no attribute '{part}'")
            target = found
            walked.append(part)
            owner = f"'{module_name}:{'.'.join(walked)}'"
        if not isinstance(target, type):
            raise _PathError(head, f": it names a {type(target).__name__}, not a class")
        self._classes[name] = target
        return target

    def _load_plan(self, doc: dict[str, Any], tags: tuple[str, ...]) -> tuple[type, _ClassPlan]:
        name = doc.get("class")
        if type(name) is not str:
            raise _PathError(f"malformed document: '{doc[_TAG]}' needs a 'class' string")
        cls = self._import_class(name)
        plan = self._plans.get(cls)
        if plan is None:
            plan = self._plan_for(cls)
        head = f"stored type {_key_repr(name)} cannot be loaded"
        if isinstance(plan, str):
            raise _PathError(head, f": {plan}")
        if plan.tag not in tags:
            raise _PathError(head, f": it was stored as {doc[_TAG]} but is now {_article(plan.tag)}")
        return cls, plan


def _article(tag: str) -> str:
    return {"enum": "an enum", "object": "a plain class"}.get(tag, f"a {tag}")


# ---------------------------------------------------------------------- decoders


def _need(doc: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = doc.get(key, _MISSING)
    if value is _MISSING or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _PathError(f"malformed document: '{doc[_TAG]}' needs '{key}' of the right type")
    return value


def _check_keys(doc: dict[str, Any], allowed: frozenset[str]) -> None:
    extra = doc.keys() - allowed
    if extra:
        raise _PathError(f"malformed document: unexpected keys {sorted(extra)} in '{doc[_TAG]}'")


def _fail_value(doc: dict[str, Any], exc: BaseException) -> NoReturn:
    raise _PathError(f"malformed document: bad '{doc[_TAG]}' value", f" ({exc})", exc)


_K_VALUE = frozenset((_TAG, "value"))
_K_ITEMS = frozenset((_TAG, "items"))
_K_ZONED = frozenset((_TAG, "value", "zone", "fold"))
_K_COMPLEX = frozenset((_TAG, "real", "imag"))
_K_TIMEDELTA = frozenset((_TAG, "days", "seconds", "microseconds"))
_K_ENUM = frozenset((_TAG, "class", "value"))
_K_OBJECT = frozenset((_TAG, "class", "state"))
_K_NAMEDTUPLE = frozenset((_TAG, "class", "items", "state"))


def _parsed_value(
    parse: Callable[[str], Any], errors: type[Exception] | tuple[type[Exception], ...]
) -> Callable[[JsonSerializer, dict[str, Any]], Any]:
    """A decoder for ``{"$type": ..., "value": "<text>"}`` documents whose text `parse` reads."""

    def decode(_: JsonSerializer, doc: dict[str, Any]) -> Any:
        _check_keys(doc, _K_VALUE)
        try:
            return parse(_need(doc, "value", str))
        except errors as exc:
            _fail_value(doc, exc)

    return decode


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _float_from(doc: dict[str, Any], value: Any) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    if isinstance(value, dict) and value.get(_TAG) == "float" and value.get("value") in _FLOATS:
        return _FLOATS[value["value"]]
    raise _PathError(f"malformed document: bad '{doc[_TAG]}' number")


def _dec_float(_: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_VALUE)
    return _float_from(doc, doc)


def _dec_complex(_: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_COMPLEX)
    return complex(_float_from(doc, doc.get("real")), _float_from(doc, doc.get("imag")))


def _dec_tuple(ser: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_ITEMS)
    return tuple(ser._decode_items(_need(doc, "items", list)))


def _dec_set(ser: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_ITEMS)
    items = ser._decode_items(_need(doc, "items", list))
    try:
        return set(items) if doc[_TAG] == "set" else frozenset(items)
    except TypeError as exc:
        _fail_value(doc, exc)


def _dec_dict(ser: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_ITEMS)
    out: dict[Any, Any] = {}
    index = 0
    try:
        for pair in _need(doc, "items", list):
            if type(pair) is not list or len(pair) != 2:
                raise _PathError("malformed document: 'dict' items must be [key, value] pairs")
            key = ser._decode(pair[0])
            value = ser._decode(pair[1])
            try:
                out[key] = value
            except TypeError as exc:  # an unhashable key
                _fail_value(doc, exc)
            index += 1
    except _PathError as failure:
        failure.segments.append(f"[{index}]")
        raise
    return out


def _dec_bytes(_: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_VALUE)
    try:
        raw = base64.b64decode(_need(doc, "value", str), validate=True)
    except (binascii.Error, ValueError) as exc:
        _fail_value(doc, exc)
    return raw if doc[_TAG] == "bytes" else bytearray(raw)


def _zone(doc: dict[str, Any]) -> ZoneInfo | None:
    key = doc.get("zone")
    if key is None:
        return None
    if type(key) is not str:
        raise _PathError("malformed document: 'zone' must be a string")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # no tz data here: keep the fixed offset
        return None


def _fold(doc: dict[str, Any]) -> int:
    fold = doc.get("fold", 0)
    if fold not in (0, 1) or type(fold) is not int:
        raise _PathError("malformed document: 'fold' must be 0 or 1")
    return fold


def _dec_datetime(_: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_ZONED)
    try:
        value = datetime.fromisoformat(_need(doc, "value", str))
    except ValueError as exc:
        _fail_value(doc, exc)
    zone = _zone(doc)
    if zone is not None and value.tzinfo is not None:
        return value.astimezone(zone)  # same instant, so the wall time and fold come out right
    fold = _fold(doc)
    return value.replace(fold=fold) if fold else value


def _dec_time(_: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_ZONED)
    try:
        value = time.fromisoformat(_need(doc, "value", str))
    except ValueError as exc:
        _fail_value(doc, exc)
    zone = _zone(doc)
    if zone is not None and value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    fold = _fold(doc)
    return value.replace(fold=fold) if fold else value


def _dec_timedelta(_: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_TIMEDELTA)
    try:
        return timedelta(
            days=_need(doc, "days", int),
            seconds=_need(doc, "seconds", int),
            microseconds=_need(doc, "microseconds", int),
        )
    except OverflowError as exc:
        _fail_value(doc, exc)


def _dec_enum(ser: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_ENUM)
    cls, _plan = ser._load_plan(doc, ("enum",))
    if "value" not in doc:
        raise _PathError("malformed document: 'enum' needs a 'value'")
    try:
        value = ser._decode(doc["value"])
    except _PathError as failure:
        failure.segments.append(".value")
        raise
    enum_cls: type[enum.Enum] = cls
    try:
        return enum_cls._value2member_map_[value]
    except (KeyError, TypeError):  # TypeError: unhashable value, found by the scan below
        pass
    for member in enum_cls.__members__.values():
        if member.value == value and type(member.value) is type(value):
            return member
    if issubclass(enum_cls, enum.Flag) and type(value) is int:
        try:
            return enum_cls(value)  # composite flags are made on demand by the Flag class itself
        except (ValueError, TypeError):
            pass
    raise _PathError(
        f"stored type {_key_repr(doc['class'])} cannot be loaded",
        f": it has no member with value {_key_repr(value)}",
    )


def _restore_state(ser: JsonSerializer, obj: Any, plan: _ClassPlan, state: Any, tag: str) -> None:
    if type(state) is not dict:
        raise _PathError(f"malformed document: '{tag}' state must be an object")
    instance_dict = obj.__dict__ if plan.has_dict else None
    name: Any = None
    try:
        for name, item in state.items():
            value = ser._decode(item)
            descriptor = plan.slot_map.get(name)
            if descriptor is not None:
                descriptor.__set__(obj, value)
            elif instance_dict is not None:
                instance_dict[name] = value
            else:
                raise _PathError(
                    f"stored type '{plan.name}' cannot be loaded",
                    f": it has no slot named {_key_repr(name)} and no __dict__",
                )
    except _PathError as failure:
        failure.segments.append(f".{name}")
        raise


def _dec_object(ser: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_OBJECT)
    cls, plan = ser._load_plan(doc, ("object", "dataclass"))
    state = _need(doc, "state", dict)
    try:
        obj: Any = object.__new__(cls)
    except TypeError as exc:  # e.g. the class became abstract since the value was stored
        raise _PathError(f"stored type '{plan.name}' cannot be loaded", f": {exc}", exc) from None
    _restore_state(ser, obj, plan, state, doc[_TAG])
    return obj


def _dec_namedtuple(ser: JsonSerializer, doc: dict[str, Any]) -> Any:
    _check_keys(doc, _K_NAMEDTUPLE)
    cls, plan = ser._load_plan(doc, ("namedtuple",))
    items = ser._decode_items(_need(doc, "items", list))
    fields = vars(cls).get("_fields", ())
    if len(items) != len(fields):
        raise _PathError(
            f"stored type '{plan.name}' cannot be loaded",
            f": stored {len(items)} items but the class now has {len(fields)} fields",
        )
    obj: Any = tuple.__new__(cls, items)
    if "state" in doc:
        _restore_state(ser, obj, plan, doc["state"], "namedtuple")
    return obj


_DECODERS: dict[str, Callable[[JsonSerializer, dict[str, Any]], Any]] = {
    "int": _parsed_value(int, ValueError),
    "float": _dec_float,
    "complex": _dec_complex,
    "tuple": _dec_tuple,
    "set": _dec_set,
    "frozenset": _dec_set,
    "dict": _dec_dict,
    "bytes": _dec_bytes,
    "bytearray": _dec_bytes,
    "datetime": _dec_datetime,
    "date": _parsed_value(date.fromisoformat, ValueError),
    "time": _dec_time,
    "timedelta": _dec_timedelta,
    "decimal": _parsed_value(Decimal, InvalidOperation),
    "uuid": _parsed_value(uuid.UUID, ValueError),
    "enum": _dec_enum,
    "namedtuple": _dec_namedtuple,
    "dataclass": _dec_object,
    "object": _dec_object,
}


class PickleSerializer(Serializer):
    """Explicit opt-in for values JSON cannot hold; the document is ``{"$pickle": base64}``.

    Warning: loading a pickle runs code chosen by whoever wrote the document. Use this only
    when every writer of the store is trusted as much as your own process.
    """

    def __init__(self, protocol: int = pickle.DEFAULT_PROTOCOL) -> None:
        self._protocol = protocol

    def to_document(self, value: Any, path: str = "value") -> Any:
        try:
            raw = pickle.dumps(value, protocol=self._protocol)
        except Exception as exc:  # PicklingError, TypeError, AttributeError, ...
            raise SerializationError(
                f"cannot store value of type '{type(value).__name__}' at {path}: {exc}"
            ) from exc
        return {"$pickle": base64.b64encode(raw).decode("ascii")}

    def from_document(self, document: Any) -> Any:
        if type(document) is not dict or type(document.get("$pickle")) is not str or len(document) != 1:
            raise SerializationError('malformed document: expected {"$pickle": <base64 string>}')
        try:
            raw = base64.b64decode(document["$pickle"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SerializationError(f"malformed document: bad base64 in '$pickle' ({exc})") from exc
        try:
            return pickle.loads(raw)
        except Exception as exc:  # missing classes, truncated data, ...
            raise SerializationError(f"stored pickle cannot be loaded: {exc}") from exc


DEFAULT_SERIALIZER: Serializer = JsonSerializer()
