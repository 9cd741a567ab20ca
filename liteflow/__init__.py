"""LiteFlow for Python. The public API lives in :mod:`liteflow.core`."""

__version__ = "0.4.0"
