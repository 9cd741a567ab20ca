"""LiteFlow on PostgreSQL (install with the ``postgres`` extra: psycopg 3 and its pool).

One database holds a whole cluster: `PostgresPersistenceProvider` stores the workflows,
`PostgresQueueProvider` hands out the work (``FOR UPDATE SKIP LOCKED``, woken by
``LISTEN/NOTIFY``) and `PostgresLockProvider` keeps two nodes off one workflow (advisory
locks, which end with their holder's session).
"""

from __future__ import annotations

from .lock import PostgresLockProvider
from .persistence import PostgresPersistenceProvider
from .queue import PostgresQueueProvider

__all__ = ["PostgresLockProvider", "PostgresPersistenceProvider", "PostgresQueueProvider"]
