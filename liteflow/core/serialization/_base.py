"""The contract durable providers store payloads through."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from ..errors import SerializationError

__all__ = ["Serializer"]


class Serializer(ABC):
    """Turns user values into JSON-safe documents (dict/list/str/int/float/bool/None only) and back.

    Each serializer's documents say which one wrote them, so loading a payload with another
    one is a clear error rather than a wrong value.
    """

    @abstractmethod
    def to_document(self, value: Any, path: str = "value") -> Any:
        """Return a JSON-safe (and BSON-friendly) structure; ``path`` names the value in errors."""

    @abstractmethod
    def from_document(self, document: Any) -> Any:
        """Rebuild the value that `to_document` produced."""

    def dumps(self, value: Any, path: str = "value") -> str:
        """Compact JSON text; non-ASCII stays readable, NaN never leaks as invalid JSON."""
        document = self.to_document(value, path)
        try:
            return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"cannot store value at {path}: {exc}") from exc

    def loads(self, text: str) -> Any:
        """Read a value stored as text; text that is not JSON or nests too deeply raises
        `SerializationError`."""
        try:
            document = json.loads(text)
        except RecursionError:
            raise SerializationError("stored document is nested too deeply to read as JSON") from None
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"stored document is not valid JSON: {exc}") from exc
        return self.from_document(document)
