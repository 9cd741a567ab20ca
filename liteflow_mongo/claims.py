"""Claims a poll takes on the due work it queues (see `claim_runnable_instances`).

A claim is two fields of the claimed document: ``queued_until``, integer microseconds since
the epoch (exact, and apart from the ``micros`` map that every persist rewrites), and
``queued_by``, the claiming call's own token. Without multi-document transactions a claim is
a conditional update of the due documents found, then a read of which ones carry the token:
of two polls racing for a document, the update of the second no longer matches it.
A document without the fields was never claimed; stores written before claims need no migration.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from liteflow.core.clock import to_utc
from liteflow.core.records import new_id

from ._database import MongoDatabase
from .documents import ids_of, time_sort

__all__ = ["claim_due"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_MICROSECOND = timedelta(microseconds=1)


def _micros(value: datetime) -> int:
    return (to_utc(value) - _EPOCH) // _MICROSECOND


def claim_due(
    db: MongoDatabase,
    collection: str,
    due: dict[str, Any],
    by: str,
    as_at: datetime,
    until: datetime,
    what: str,
) -> list[str]:
    """Claim until `until` the documents of `collection` matching `due` and unclaimed at
    `as_at`; their ids, sorted by the time field `by`."""
    unclaimed = {"$or": [{"queued_until": None}, {"queued_until": {"$lte": _micros(as_at)}}]}
    documents = db.collection(collection)
    query = {"$and": [due, unclaimed]}
    found = ids_of(db.call(what, lambda: list(documents.find(query, {"_id": 1}).sort(time_sort(by)))))
    if not found:
        return []
    token = new_id()
    mine = {"$and": [{"_id": {"$in": found}}, unclaimed]}
    claim = {"$set": {"queued_until": _micros(until), "queued_by": token}}
    db.call(what, lambda: documents.update_many(mine, claim))
    mine_now = {"_id": {"$in": found}, "queued_by": token}  # by _id: the index, not a scan
    taken = set(ids_of(db.call(what, lambda: list(documents.find(mine_now, {"_id": 1})))))
    return [item for item in found if item in taken]
