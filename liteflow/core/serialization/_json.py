"""The default serializer: readable JSON that only ever loads back into data."""

from __future__ import annotations

from typing import Any

from ..errors import SerializationError
from ._base import Serializer
from ._decoder import Decoder
from ._encoder import Encoder
from ._limits import DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, DEFAULT_MAX_SIZE, Limits
from ._paths import PathError

__all__ = ["JsonSerializer"]


class JsonSerializer(Serializer):
    """Stores values as readable JSON; loading rebuilds only known classes and runs none of their code.

    `max_depth` (at most 200), `max_size` (characters, roughly the JSON's size) and
    `max_items` bound every document, counted the same way when storing and when loading,
    so whatever is stored loads back. An instance is safe to share between threads.
    """

    def __init__(
        self,
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_size: int = DEFAULT_MAX_SIZE,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        self._limits = Limits(max_depth, max_size, max_items)

    def to_document(self, value: Any, path: str = "value") -> Any:
        try:
            return Encoder(self._limits).encode(value)
        except PathError as failure:
            raise SerializationError(
                f"{failure.head} at {failure.path(path)}{failure.tail}"
            ) from failure.cause
        except RecursionError:
            raise SerializationError(
                f"cannot store value at {path}: it is nested too deeply for this thread's stack"
            ) from None

    def from_document(self, document: Any) -> Any:
        try:
            return Decoder(self._limits).decode(document)
        except PathError as failure:
            where = f" (at {failure.path('document')})" if failure.segments else ""
            raise SerializationError(f"{failure.head}{failure.tail}{where}") from failure.cause
        except RecursionError:
            raise SerializationError("stored document is nested too deeply for this thread's stack") from None
        except Exception as exc:  # no class's own code runs while loading: the document's shape is at fault
            raise SerializationError(f"malformed document: {type(exc).__name__}: {exc}") from exc
