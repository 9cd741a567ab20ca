"""LiteFlow for Python. The public API lives in `liteflow.core`."""

__version__ = "0.4.0"
