"""Each public module's API is exactly its ``__all__``, and what it exports says what it is for.

A public module is one of LiteFlow's packages, or a module under them whose dotted path has no
part starting with ``_``. Its public names are those it defines at its top level (functions,
classes, assignments) that do not start with ``_``, plus, in a package's ``__init__``, what it
imports from its own submodules; type variables and type aliases spell annotations, not API.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import typing
from pathlib import Path
from types import ModuleType

import pytest

PACKAGES = [
    "liteflow",
    "liteflow_azure",
    "liteflow_mongo",
    "liteflow_postgres",
    "liteflow_rabbitmq",
    "liteflow_redis",
]


def public_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        path = importlib.import_module(package).__path__
        names += [
            info.name
            for info in pkgutil.walk_packages(path, f"{package}.")
            if not any(part.startswith("_") for part in info.name.split("."))
        ]
    return sorted(names)


MODULES = public_modules()


def _bound_names(body: list[ast.stmt], is_package: bool) -> set[str]:
    """Names a module's top-level statements bind (inside `if`/`try` too, not under TYPE_CHECKING)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {n.id for target in node.targets for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and is_package and node.level:
            names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            names |= _bound_names(node.body + node.orelse, is_package)
        elif isinstance(node, ast.Try):
            handlers = [statement for handler in node.handlers for statement in handler.body]
            names |= _bound_names(node.body + handlers + node.orelse, is_package)
    return names


def _is_annotation_spelling(value: object) -> bool:
    return isinstance(value, typing.TypeVar) or typing.get_origin(value) is not None


def public_names(module: ModuleType) -> set[str]:
    assert module.__file__ is not None
    path = Path(module.__file__)
    bound = _bound_names(ast.parse(path.read_text()).body, path.name == "__init__.py")
    return {
        name
        for name in bound
        if not name.startswith("_") and not _is_annotation_spelling(getattr(module, name, None))
    }


def test_every_package_has_public_modules() -> None:
    assert {"liteflow.core", "liteflow.core.testing", "liteflow.otel", "liteflow_mongo"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_the_public_names_are_exactly_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ names something twice"
    assert [n for n in exported if not hasattr(module, n)] == [], f"{name}.__all__ names what it lacks"
    assert sorted(public_names(module) - set(exported)) == [], f"public in {name} but not in __all__"
