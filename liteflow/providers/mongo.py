"""The original's ``liteflow.providers.mongo``: `liteflow_mongo`'s provider (the ``mongo`` extra)."""

from __future__ import annotations

from ._extras import missing_extra

try:
    from liteflow_mongo import MongoPersistenceProvider
except ModuleNotFoundError as error:
    raise missing_extra(__name__, "mongo", error) from error

__all__ = ["MongoPersistenceProvider"]
