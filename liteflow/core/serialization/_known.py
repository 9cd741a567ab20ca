"""The classes stored documents may name: only those the application made known.

Loading never imports a module and never looks a stored name up in a module. A stored type
resolves through this process-wide table only, which holds

* the classes given to `register_type`, and
* the classes defined in the packages of registered workflows, their data types and step
  classes: registering a workflow makes its top-level package known, and a stored name
  in it is found by listing the classes of that module, if it is already imported.

The standard library and LiteFlow's own packages never become known that way.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import Any, TypeVar

from ..errors import InvalidArgumentError
from ..text import is_storable_text
from ._classes import plan_for
from ._introspect import is_class, module_name, module_namespace, own_dict, qualname

__all__ = ["KNOWN_TYPES", "register_type"]

_C = TypeVar("_C", bound=type)
_NEVER_KNOWN = frozenset(getattr(sys, "stdlib_module_names", ())) | {"builtins", "liteflow"}


def default_name(cls: type) -> str:
    return f"{module_name(cls)}:{qualname(cls)}"


class _ModuleClasses:
    """The classes one module defines, by qualified name, as listed from its namespace."""

    __slots__ = ("by_name", "module")

    def __init__(self, module: object, by_name: dict[str, type]) -> None:
        self.module = module
        self.by_name = by_name


def _list_classes(module: str, namespace: dict[str, Any]) -> dict[str, type]:
    """Classes reachable under their own qualified name; reading dicts only, so no code runs."""
    found: dict[str, type] = {}
    pending = [(key, value) for key, value in list(namespace.items()) if type(key) is str and is_class(value)]
    while pending:
        name, cls = pending.pop()
        if qualname(cls) != name or module_name(cls) != module:
            continue  # imported from elsewhere, or bound under another name
        found[name] = cls
        pending.extend(
            (f"{name}.{key}", value)
            for key, value in list(own_dict(cls).items())
            if type(key) is str and is_class(value)
        )
    return found


class KnownTypes:
    """Registered classes and known packages; reads take no lock, writes are serialized."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registered: dict[str, type] = {}
        self._names: dict[int, tuple[type, str]] = {}  # by id(cls): no class's __hash__ runs
        self._stored: dict[int, tuple[type, str]] = {}  # names found known, so stores skip the lookup
        self._packages: set[str] = set()
        self._modules: dict[str, _ModuleClasses] = {}

    def register(self, cls: Any, name: str | None = None) -> None:
        if not is_class(cls):
            raise InvalidArgumentError(f"register_type() expects a class, got a {type(cls).__name__}")
        if name is None:
            if "<locals>" in qualname(cls):
                raise InvalidArgumentError(
                    f"register_type({qualname(cls)}): the class is defined inside a function, so its "
                    "module and name cannot find it again; pass a name: register_type(cls, name='...')"
                )
            name = default_name(cls)
        elif type(name) is not str or not name or not is_storable_text(name):
            raise InvalidArgumentError(f"register_type() name must be a non-empty string, got {name!r}")
        plan = plan_for(cls)
        if isinstance(plan, str):
            raise InvalidArgumentError(f"register_type({qualname(cls)}): cannot store its instances: {plan}")
        with self._lock:
            taken = self._registered.get(name)
            if taken is not None and taken is not cls and default_name(taken) != default_name(cls):
                raise InvalidArgumentError(
                    f"register_type({qualname(cls)}): the name {name!r} is already registered "
                    f"for {default_name(taken)}"
                )
            previous = self._names.get(id(cls))
            if previous is not None and previous[0] is cls and previous[1] != name:
                raise InvalidArgumentError(
                    f"register_type({qualname(cls)}): already registered as {previous[1]!r}; "
                    "a class is stored under one name"
                )
            self._registered[name] = cls  # a reloaded class replaces its earlier version
            self._names[id(cls)] = (cls, name)
            self._stored.clear()

    def learn_packages_of(self, candidates: Iterable[object]) -> None:
        """Make known the top-level packages that these classes (other values are skipped) come from."""
        packages = set()
        for candidate in candidates:
            module = module_name(candidate) if isinstance(candidate, type) else None
            package = module.partition(".")[0] if module else ""
            if package and package not in _NEVER_KNOWN and not package.startswith("liteflow_"):
                packages.add(package)
        if not packages <= self._packages:
            with self._lock:
                self._packages |= packages

    def stored_name(self, cls: type) -> str | None:
        """The name `cls` is stored under, or None when loading could not find it again."""
        entry = self._stored.get(id(cls))
        if entry is not None and entry[0] is cls:
            return entry[1]
        registered = self._names.get(id(cls))
        if registered is not None and registered[0] is cls:
            name = registered[1]
        else:
            name = default_name(cls)
            if self._find(name, fresh=False) is not cls and self._find(name, fresh=True) is not cls:
                return None
        self._stored[id(cls)] = (cls, name)
        return name

    def resolve(self, name: str) -> type | None:
        """The known class a stored name stands for, or None."""
        found = self._find(name, fresh=False)
        return found if found is not None else self._find(name, fresh=True)

    def refusal(self, cls: type) -> str:
        if "<locals>" in qualname(cls):
            return (
                f"class '{qualname(cls)}' is defined inside a function, so it cannot be found again "
                "by its name when the value is loaded; define it at module level, or register it "
                "with a name: liteflow.core.register_type(cls, name='...')"
            )
        return (
            f"'{default_name(cls)}' is not a known type: loading only rebuilds classes the application "
            f"made known; call liteflow.core.register_type({qualname(cls)}) or define it in the package "
            "of a registered workflow"
        )

    def _find(self, name: str, fresh: bool) -> type | None:
        registered = self._registered.get(name)
        if registered is not None:
            return registered
        module, colon, qualified = name.partition(":")
        if not colon or module.partition(".")[0] not in self._packages:
            return None
        loaded = sys.modules.get(module)  # only what the application imported itself
        namespace = module_namespace(loaded)
        if namespace is None:
            return None
        listed = self._modules.get(module)
        if fresh or listed is None or listed.module is not loaded:
            listed = _ModuleClasses(loaded, _list_classes(module, namespace))
            self._modules[module] = listed
        return listed.by_name.get(qualified)


KNOWN_TYPES = KnownTypes()


def register_type(cls: _C, name: str | None = None) -> _C:
    """Let stored values of `cls` be loaded; `name` (default ``"module:QualName"``) is stored with them.

    Classes defined in the package of a registered workflow (its own class, its `data_type`
    and its step classes) are known without this. Returns `cls`, so it also works as a
    class decorator.
    """
    KNOWN_TYPES.register(cls, name)
    return cls
