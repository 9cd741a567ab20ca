"""Errors that learn where they happened on their way up, and safe renderings for their text."""

from __future__ import annotations

from typing import Any

from ._introspect import type_name

__all__ = ["PathError", "describe"]

_SHOWN = 60


class PathError(Exception):
    """Carries an error up the recursion so each level can add its path segment cheaply."""

    def __init__(self, head: str, tail: str = "", cause: BaseException | None = None) -> None:
        super().__init__(head)
        self.head = head
        self.tail = tail
        self.cause = cause
        self.segments: list[str] = []

    def path(self, root: str) -> str:
        return root + "".join(reversed(self.segments))


def describe(value: Any) -> str:
    """A short rendering for messages that never runs a class's own ``__repr__``."""
    cls = type(value)
    if cls is str:
        return repr(value) if len(value) <= _SHOWN else repr(value[: _SHOWN - 3]) + "..."
    if value is None or cls is bool or cls is float or (cls is int and value.bit_length() <= 64):
        return repr(value)
    return f"<{type_name(value)}>"
