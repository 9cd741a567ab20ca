"""Durable persistence in one SQLite file, using only the standard library.

`SqlitePersistenceProvider` maps records to rows (`_provider`); `_database` owns the
connections, the group commits and the schema migrations (`_schema`); `_values` says how
times and documents are written.
"""

from __future__ import annotations

from ._provider import SqlitePersistenceProvider

__all__ = ["SqlitePersistenceProvider"]
