"""Every public name has a docstring, and every public module is in the API reference, which
the documentation site builds from those docstrings."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from tests.unit.test_public_api import public_modules

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_MODULES = [
    "liteflow.core",
    "liteflow.core.testing",
    "liteflow.core.lifecycle",
    "liteflow.core.lifecycle_hub",
    "liteflow.core.remote_hub",
    "liteflow.core.serialization",
    "liteflow.core.schedules",
    "liteflow.core.clock",
    "liteflow.core.changes",
    "liteflow.core.record_schema",
    "liteflow.core.middleware",
    "liteflow.core.testing.pytest_plugin",
    "liteflow.otel",
    "liteflow_mongo",
    "liteflow_postgres",
    "liteflow_azure",
    "liteflow_rabbitmq",
    "liteflow_redis",
    "liteflow.operate",
    "liteflow.dashboard",
    "liteflow.cli",
]


def _undocumented(module_name: str, methods: bool = True) -> list[str]:
    """Classes and functions of `__all__` without a docstring of their own, and (with `methods`)
    public methods and properties of those classes without one (a method may inherit its
    contract's)."""
    module = importlib.import_module(module_name)
    missing = [] if inspect.getdoc(module) else [module_name]
    for name in module.__all__:
        public = getattr(module, name)
        if not (inspect.isclass(public) or inspect.isfunction(public)):
            continue
        if not (public.__doc__ or "").strip():  # a class's own: classes do not inherit it
            missing.append(f"{module_name}.{name}")
        if not (methods and inspect.isclass(public)):
            continue
        for attribute, value in vars(public).items():
            if attribute.startswith(("_", "test_")):
                continue
            if isinstance(value, property):
                documented = bool((value.__doc__ or "").strip())
            elif inspect.isfunction(getattr(value, "__func__", value)):
                documented = bool(inspect.getdoc(getattr(public, attribute)))
            else:
                continue
            if not documented:
                missing.append(f"{module_name}.{name}.{attribute}")
    return missing


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_of_the_module_has_a_docstring(module_name: str) -> None:
    assert _undocumented(module_name) == []


@pytest.mark.parametrize("module_name", public_modules())
def test_every_class_and_function_a_module_exports_has_a_docstring(module_name: str) -> None:
    """Inner modules too: what one exports is what others, and the reader, rely on."""
    assert _undocumented(module_name, methods=False) == []


def _reference_directives() -> dict[str, str]:
    """The API reference's ``::: name`` directives, each with its options."""
    pages = "".join(page.read_text() for page in (ROOT / "docs" / "reference").glob("*.md"))
    return dict(re.findall(r"^::: (\S+)\n((?:    .*\n)*)", pages, flags=re.M))


def test_every_public_class_and_function_is_in_the_api_reference() -> None:
    """Shown by its module's directive, or by one of its own (aliases, such as the original's
    ``IPersistenceProvider``, are shown under the name they alias)."""
    directives = _reference_directives()
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        whole = module_name in directives and "members: false" not in directives[module_name]
        for name in module.__all__:
            public = getattr(module, name)
            if not (inspect.isclass(public) or inspect.isfunction(public)) or public.__name__ != name:
                continue
            if not whole and f"{module_name}.{name}" not in directives:
                missing.append(f"{module_name}.{name}")
    assert missing == []
