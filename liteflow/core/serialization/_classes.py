"""What is decided once per class about storing its instances and rebuilding them.

Only Python-defined plain classes, dataclasses, named tuples and enums are stored. An
instance is rebuilt with ``object.__new__`` (``tuple.__new__`` for named tuples) and its
``__dict__`` and slots are filled through the descriptors Python made for them, so none of
the class's own code (``__init__``, ``__post_init__``, ``__setstate__``, ``__setattr__``,
``__getattribute__``) runs. Enum members are found among the members by value; only a
composite of a ``Flag`` is made, by the enum module's own code.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

from ._introspect import (
    MISSING,
    dict_offset,
    is_python_class,
    library_code_only,
    lookup,
    mro,
    own_dict,
    qualname,
)

__all__ = ["EnumPlan", "ObjectPlan", "Plan", "enum_member", "enum_refusal", "member_value", "plan_for"]

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

# What making a Flag composite runs, across Python versions: each must be the enum module's own.
_FLAG_HOOKS = (
    "_missing_",
    "_create_pseudo_member_",
    "_iter_member_",
    "_numeric_repr_",
    "__eq__",
    "__hash__",
    "__getattr__",
    "__getattribute__",
    "__setattr__",
    "value",
    "name",
)


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class ObjectPlan:
    cls: type
    tag: str  # "namedtuple" | "dataclass" | "object"
    dict_slot: Any  # the descriptor of the instances' __dict__; None when they have none
    slots: tuple[tuple[str, Any], ...]  # (attribute name, member descriptor)
    slot_map: dict[str, Any]
    fields: int  # a named tuple's number of fields


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class EnumPlan:
    cls: type
    members: dict[Any, Any]  # plain_key(member value) -> member
    flag: bool
    composites: str | None  # why Flag composites cannot be made without the class's code; None if they can
    library_hash: bool  # hashing and comparing members runs only the enum module's code
    tag: str = "enum"


Plan = ObjectPlan | EnumPlan

_PLANS: dict[int, tuple[type, Plan | str]] = {}


def plan_for(cls: type) -> Plan | str:
    """How instances of `cls` are stored, or why they are not (keyed by identity: no class hash runs)."""
    entry = _PLANS.get(id(cls))
    if entry is not None and entry[0] is cls:
        return entry[1]
    plan = _decide(cls)
    _PLANS[id(cls)] = (cls, plan)
    return plan


def plain_key(value: Any) -> Any:
    """A dict key standing for a plain value (its types included), or None for anything else."""
    cls = type(value)
    if cls is str or cls is int or cls is float or cls is bool or cls is bytes or value is None:
        return (cls, value)
    if cls is tuple:
        keys = []
        for item in value:
            key = plain_key(item)
            if key is None:
                return None
            keys.append(key)
        return (tuple, tuple(keys))
    return None


def enum_member(plan: EnumPlan, value: Any) -> Any:
    """The member with this value, or None; a Flag composite is made by enum's own code only."""
    key = plain_key(value)
    if key is not None:
        member = plan.members.get(key)
        if member is not None:
            return member
    if not plan.flag or type(value) is not int or plan.composites is not None:
        return None
    by_value = own_dict(plan.cls).get("_value2member_map_")
    member = by_value.get(value) if type(by_value) is dict else None  # a Flag's values are ints
    if member is None:
        try:
            member = lookup(plan.cls, "_missing_").__get__(None, plan.cls)(value)
        except (ValueError, TypeError):
            return None
    return member if type(member) is plan.cls else None


def enum_refusal(plan: EnumPlan, member: Any) -> str | None:
    """Why `member` could not be found again when loaded; None if it can."""
    value = member_value(member)
    if enum_member(plan, value) is member:
        return None
    if plan.flag and type(value) is int and plan.composites is not None:
        return plan.composites
    if plain_key(value) is None:
        return (
            "enum members are stored by value, and this value is not plain data "
            "(str, int, float, bool, bytes, None or tuples of them)"
        )
    return "its value does not find it again among the members (a NaN value?)"


def member_value(member: Any) -> Any:
    try:
        return object.__getattribute__(member, "_value_")
    except AttributeError:
        return MISSING


def _enum_plan(cls: type) -> EnumPlan:
    members: dict[Any, Any] = {}
    member_map = own_dict(cls).get("_member_map_")
    for member in member_map.values() if type(member_map) is dict else ():
        key = plain_key(member_value(member))
        if key is not None:
            members.setdefault(key, member)
    flag = issubclass(cls, enum.Flag)
    composites = None
    if flag:
        member_type = lookup(cls, "_member_type_")
        if type(cls) is not enum.EnumMeta or not (member_type is object or member_type is int):
            composites = f"composite values of the Flag '{qualname(cls)}' need its own code to be made"
        elif not library_code_only(cls, _FLAG_HOOKS, "enum"):
            composites = (
                f"the Flag '{qualname(cls)}' overrides how its composite values are made, "
                "and loading never runs a class's own code"
            )
    library_hash = library_code_only(cls, ("__hash__", "__eq__"), "enum")
    return EnumPlan(cls, members, flag, composites, library_hash)


def _decide(cls: type) -> Plan | str:
    for kinds, reason in _REFUSED_KINDS:
        if issubclass(cls, kinds):
            return reason
    if cls is object:
        return "a bare object() carries no data to store"
    if issubclass(cls, enum.Enum):
        return _enum_plan(cls)
    fields = lookup(cls, "_fields")
    is_namedtuple = issubclass(cls, tuple) and type(fields) is tuple
    for klass in mro(cls):
        if klass is object or klass is typing.Generic or (is_namedtuple and klass is tuple):
            continue
        if is_python_class(klass):
            continue
        what = "is" if klass is cls else "builds on"
        return (
            f"it {what} the built-in or extension type '{klass.__module__}.{qualname(klass)}', "
            "which JsonSerializer does not support; convert it to plain data first "
            "(or opt in to PickleSerializer)"
        )
    if any("__del__" in own_dict(klass) for klass in mro(cls)):
        return (
            "classes with a __del__ finalizer manage resources and are not stored as data "
            "(loading one would hand stored state to its finalizer); store plain data instead"
        )
    dict_slot = None
    if dict_offset(cls) != 0:
        dict_slot = lookup(cls, "__dict__")
        if type(dict_slot) is not types.GetSetDescriptorType:
            return "it redefines __dict__, so its attributes cannot be stored and restored as data"
    slots = _slot_descriptors(cls)
    if is_namedtuple:
        tag = "namedtuple"
    elif type(lookup(cls, "__dataclass_fields__")) is dict:
        tag = "dataclass"
    else:
        tag = "object"
    return ObjectPlan(cls, tag, dict_slot, slots, dict(slots), len(fields) if is_namedtuple else 0)


def _slot_descriptors(cls: type) -> tuple[tuple[str, Any], ...]:
    """Member descriptors carry the mangled names, so ``__private`` slots work too."""
    found: dict[str, Any] = {}
    for klass in reversed(mro(cls)):
        namespace = own_dict(klass)
        if "__slots__" not in namespace:
            continue
        for name, attr in namespace.items():
            if type(attr) is types.MemberDescriptorType and name not in ("__weakref__", "__dict__"):
                found[name] = attr
    return tuple(found.items())
