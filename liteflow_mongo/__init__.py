"""LiteFlow's MongoDB persistence provider (install with the ``mongo`` extra: pymongo 4.x).

Pass a `MongoPersistenceProvider` as ``persistence_service`` to ``configure_workflow_host``
so workflows survive restarts and every node of a cluster sees the same instances.
"""

from __future__ import annotations

from .persistence import MongoPersistenceProvider

__all__ = ["MongoPersistenceProvider"]
