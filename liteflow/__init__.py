"""LiteFlow for Python. The public API lives in `liteflow.core`."""

__all__ = ["__version__"]

#: The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.4.0"
