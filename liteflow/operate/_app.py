"""Loading the application's host from ``module:attribute``, as the command line's ``--app``."""

from __future__ import annotations

import importlib
import os
import sys

from liteflow.core.errors import InvalidArgumentError
from liteflow.core.host import WorkflowHost

__all__ = ["load_app"]


def load_app(spec: str) -> WorkflowHost:
    """The `WorkflowHost` at ``module:attribute`` (a dotted attribute too), or returned by the
    callable there. The current directory is searched first, as ``python -m`` does."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise InvalidArgumentError(f"--app takes module:attribute (e.g. myapp.workflows:host), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgumentError(f"cannot import {module_name!r} for --app {spec}: {exc}") from exc
    for name in attribute.split("."):
        if not hasattr(found, name):
            raise InvalidArgumentError(f"--app {spec}: {module_name} has no attribute {attribute!r}")
        found = getattr(found, name)
    if not isinstance(found, WorkflowHost) and callable(found):
        found = found()
    if not isinstance(found, WorkflowHost):
        raise InvalidArgumentError(
            f"--app {spec} is a {type(found).__name__}: it must be a WorkflowHost, or a "
            "function returning one"
        )
    return found
