"""The error a compatibility module raises when its provider's extra is not installed."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(module: str, extra: str, error: ModuleNotFoundError) -> ImportError:
    """Name the extra to install instead of the third-party module that was not found."""
    return ImportError(
        f"{module} needs LiteFlow's '{extra}' extra ({error.name} is not installed): "
        f"pip install 'liteflow[{extra}]'",
        name=module,
    )
