"""Text that every store can hold."""

from __future__ import annotations

__all__ = ["is_storable_text"]


def is_storable_text(text: str) -> bool:
    """Stores keep text as UTF-8, which has no encoding for a lone surrogate such as '\\ud800'."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
