"""Payloads as they are stored, for operators' tools that do not have the application's classes.

A store loads workflow data, step state and event data through its serializer, which
rebuilds only classes the application made known (see docs/data-format.md, "Serialization"). A
command line or a dashboard run without the application cannot rebuild them; it reads the
store with `StoredDocumentSerializer` instead: every payload stays the JSON document it was
stored as (shown as it is), and is written back unchanged when an action rewrites the
instance. Nothing is rebuilt, so nothing of a stored document can run, and nothing is lost.
"""

from __future__ import annotations

import copy
from typing import Any

from liteflow.core.errors import SerializationError
from liteflow.core.serialization import DEFAULT_SERIALIZER, Serializer

__all__ = ["StoredDocument", "StoredDocumentSerializer", "shown"]


class StoredDocument:
    """A stored payload, not rebuilt: `document` is its JSON form."""

    __slots__ = ("document",)

    def __init__(self, document: Any) -> None:
        self.document = document

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredDocument) and self.document == other.document

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredDocument:
        return StoredDocument(copy.deepcopy(self.document, memo))

    def __repr__(self) -> str:
        return f"StoredDocument({self.document!r:.200})"


def _unwrap(value: Any, path: str) -> Any:
    """The document of `value`: stored documents as they were, inside plain dicts and lists too
    (a terminated child tells its parent its data that way), anything else serialized."""
    if isinstance(value, StoredDocument):
        return value.document
    if type(value) is list:
        return [_unwrap(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if type(value) is dict and all(type(key) is str and not key.startswith("$") for key in value):
        return {key: _unwrap(item, f"{path}.{key}") for key, item in value.items()}
    return DEFAULT_SERIALIZER.to_document(value, path)


class StoredDocumentSerializer(Serializer):
    """Loads every payload as a `StoredDocument`, and stores it back as it was."""

    def to_document(self, value: Any, path: str = "value") -> Any:
        return _unwrap(value, path)

    def from_document(self, document: Any) -> Any:
        return None if document is None else StoredDocument(document)


def shown(value: Any) -> Any:
    """A payload as JSON-able data for people: a stored document as it is; a loaded value in
    the form it is stored in; else its type's name."""
    if isinstance(value, StoredDocument):
        return value.document
    try:
        return DEFAULT_SERIALIZER.to_document(value, "value")
    except SerializationError:
        return {"$unstorable": type(value).__qualname__}
