"""How large a stored document may be; checked the same way when storing and when loading.

Both directions count the same three things over the same document, so whatever is
accepted when stored always loads back:

* depth: containers nested in each other (lists, dicts, tuples, sets, objects, enum values);
* items: every value in the document, containers and scalars alike;
* size: the characters of every string (dict keys, attribute names and the text of tagged
  values such as dates included), so roughly the size of the stored JSON.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from ..errors import InvalidArgumentError
from ..text import is_storable_text
from ._paths import PathError

__all__ = ["DEFAULT_MAX_DEPTH", "DEFAULT_MAX_ITEMS", "DEFAULT_MAX_SIZE", "DEPTH_CEILING", "Limits", "Walk"]

DEFAULT_MAX_DEPTH = 100
DEFAULT_MAX_SIZE = 16 * 1024 * 1024
DEFAULT_MAX_ITEMS = 1_000_000

#: The deepest a document may be configured: the encoder and decoder recurse per level,
#: and this keeps them well inside Python's default recursion limit.
DEPTH_CEILING = 200


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = DEFAULT_MAX_DEPTH
    max_size: int = DEFAULT_MAX_SIZE
    max_items: int = DEFAULT_MAX_ITEMS

    def __post_init__(self) -> None:
        for name, ceiling in (("max_depth", DEPTH_CEILING), ("max_size", None), ("max_items", None)):
            value = getattr(self, name)
            if type(value) is not int or value < 1 or (ceiling is not None and value > ceiling):
                bound = f"between 1 and {ceiling}" if ceiling is not None else "a positive int"
                raise InvalidArgumentError(f"{name} must be {bound}, got {value!r}")

    def too_deep(self) -> PathError:
        return PathError(
            f"value nested more than {self.max_depth} levels deep",
            " (the serializer's max_depth; JsonSerializer(max_depth=...) changes it)",
        )

    def too_large(self) -> PathError:
        return PathError(
            f"value larger than {self.max_size} characters",
            " (the serializer's max_size; JsonSerializer(max_size=...) changes it)",
        )

    def too_many(self) -> PathError:
        return PathError(
            f"value of more than {self.max_items} items",
            " (the serializer's max_items; JsonSerializer(max_items=...) changes it)",
        )


class Walk:
    """One document being written or read, and how much of the limits it has used so far.

    The encoder and the decoder both are one, so they count alike. Their hot paths inline
    `count_text`. An error abandons the whole document, so nothing is unwound on the way out.
    """

    __slots__ = ("_depth", "_items", "_limits", "_max_depth", "_max_items", "_max_size", "_size")

    #: How text a store cannot hold (a lone surrogate) is reported: head and tail of the PathError.
    unstorable_text: ClassVar[tuple[str, str]]

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._max_depth = limits.max_depth
        self._max_items = limits.max_items
        self._max_size = limits.max_size
        self._depth = 0
        self._items = 0
        self._size = 0

    def count_text(self, text: str) -> None:
        self._size += len(text)
        if self._size > self._max_size or not text.isascii():
            self.check_text(text)

    def check_text(self, text: str) -> None:
        """The slow path of `count_text`: over the size, or text that is not plain ASCII."""
        if self._size > self._max_size:
            raise self._limits.too_large()
        if not is_storable_text(text):
            raise PathError(*self.unstorable_text)

    def count_size(self, size: int) -> None:
        self._size += size
        if self._size > self._max_size:
            raise self._limits.too_large()

    def enter(self) -> None:
        """A container starts: one level deeper."""
        if self._depth >= self._max_depth:
            raise self._limits.too_deep()
        self._depth += 1

    def leave(self) -> None:
        self._depth -= 1
