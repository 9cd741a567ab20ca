"""Reading classes without running any of their code.

``cls.__mro__`` or ``vars(cls)`` go through the metaclass, and ``isinstance`` may read an
object's ``__class__``: all of these can run code a class defines. Loading must not, so
classes are read here through the descriptors of ``type`` itself.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MISSING",
    "dict_offset",
    "is_class",
    "is_python_class",
    "library_code_only",
    "lookup",
    "module_name",
    "module_namespace",
    "mro",
    "own_dict",
    "qualname",
    "type_name",
]

MISSING: Any = object()

_TYPE = vars(type)
_MRO = _TYPE["__mro__"]
_DICT = _TYPE["__dict__"]
_FLAGS = _TYPE["__flags__"]
_QUALNAME = _TYPE["__qualname__"]
_DICT_OFFSET = _TYPE["__dictoffset__"]
_MODULE_DICT = vars(types.ModuleType)["__dict__"]
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE
_IMMUTABLETYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE (3.10+): set on built-in and extension types


def is_class(value: object) -> bool:
    return issubclass(type(value), type)


def mro(cls: type) -> tuple[type, ...]:
    found: tuple[type, ...] = _MRO.__get__(cls, type)
    return found


def own_dict(cls: type) -> Mapping[str, Any]:
    found: Mapping[str, Any] = _DICT.__get__(cls, type)
    return found


def qualname(cls: type) -> str:
    name: str = _QUALNAME.__get__(cls, type)
    return name


def module_name(cls: type) -> str | None:
    """The module a Python class says it was defined in (built-in types keep none in their dict)."""
    name = own_dict(cls).get("__module__")
    return name if type(name) is str else None


def type_name(value: object) -> str:
    return qualname(type(value))


def dict_offset(cls: type) -> int:
    offset: int = _DICT_OFFSET.__get__(cls, type)
    return offset


def is_python_class(cls: type) -> bool:
    """Python-defined classes are mutable heap types; built-in and extension types are not."""
    flags: int = _FLAGS.__get__(cls, type)
    return bool(flags & _HEAPTYPE) and not flags & _IMMUTABLETYPE


def lookup(cls: type, name: str) -> Any:
    """What ``cls.name`` finds in the class hierarchy, as stored (descriptors not bound)."""
    for klass in mro(cls):
        namespace = own_dict(klass)
        if name in namespace:
            return namespace[name]
    return MISSING


def _owner(cls: type, name: str) -> type | None:
    for klass in mro(cls):
        if name in own_dict(klass):
            return klass
    return None


def library_code_only(cls: type, names: Iterable[str], library: str) -> bool:
    """True if each of `names` comes from a built-in type or from the `library` module."""
    for name in names:
        owner = _owner(cls, name)
        if owner is not None and is_python_class(owner) and module_name(owner) != library:
            return False
    return True


def module_namespace(module: object) -> dict[str, Any] | None:
    """A module's globals, or None for anything that is not a module (sys.modules may hold any object)."""
    if not issubclass(type(module), types.ModuleType):
        return None
    namespace = _MODULE_DICT.__get__(module, types.ModuleType)
    return namespace if type(namespace) is dict else None
