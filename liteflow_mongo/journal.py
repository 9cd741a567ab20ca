"""A pass's side effects, written inside its instance's document, then applied to their collections.

A standalone MongoDB has no multi-document transactions, but an update of one document is
atomic. So `persist_changes` writes the instance together with a ``journal`` array: one
entry per new subscription, ended subscription, error, event and event mark of the pass.
The entries are then applied to their collections (each application is idempotent) and
pulled from the document. A process that dies in between leaves them in the journal, and
whoever next looks finishes the work: loading the instance, looking up subscriptions,
errors or runnable events (the poller does that every interval).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pymongo import UpdateOne

from liteflow.core.changes import WorkflowChanges
from liteflow.core.records import ExecutionError, new_id
from liteflow.core.serialization import Serializer

from ._database import MongoDatabase
from .documents import error_document, event_document, ids_of, pointer_document, subscription_document

__all__ = [
    "ERRORS",
    "EVENTS",
    "HISTORY",
    "JOURNAL",
    "SUBSCRIPTIONS",
    "Journal",
    "error_entries",
    "has_entries",
    "journal_entries",
]

_log = logging.getLogger("liteflow.mongo")

Document = dict[str, Any]

SUBSCRIPTIONS = "subscriptions"
EVENTS = "events"
ERRORS = "execution_errors"
HISTORY = "pointer_history"
JOURNAL = "journal"

_OP = "op"
_SUBSCRIBE, _END, _ERROR, _EVENT, _MARK, _ARCHIVE = "subscribe", "end", "error", "event", "mark", "archive"

#: Matches an instance whose journal holds anything: entry ids are strings, and only
#: strings sort after "" (so the index on the entries' ids answers it without a scan).
has_entries: Document = {f"{JOURNAL}._id": {"$gt": ""}}


def journal_entries(serializer: Serializer, changes: WorkflowChanges) -> list[Document]:
    """The entries of a pass, ids assigned; serializes everything (raising before any write)."""
    entries: list[Document] = []
    for subscription in changes.subscriptions:
        if not subscription.id:
            subscription.id = new_id()
        entries.append({**subscription_document(subscription), _OP: _SUBSCRIBE})
    entries += [{"_id": new_id(), _OP: _END, "subscription": sid} for sid in changes.ended_subscriptions]
    entries += error_entries(changes.errors)
    for event in changes.events:
        if not event.id:
            event.id = new_id()
        entries.append({**event_document(serializer, event, event.id), _OP: _EVENT})
    entries += [
        {"_id": new_id(), _OP: _MARK, "event": event_id, "processed": processed}
        for event_id, processed in changes.event_marks.items()
    ]
    batch = new_id()  # the history is read in the order of batches, then of their pointers
    entries += [
        {
            "_id": new_id(),
            _OP: _ARCHIVE,
            "workflow_id": changes.workflow.id,
            "batch": batch,
            "index": index,
            "pointer": pointer_document(serializer, pointer, index),
        }
        for index, pointer in enumerate(changes.archived_pointers)
    ]
    return entries


def error_entries(errors: Sequence[ExecutionError]) -> list[Document]:
    """Journal entries that insert the pass's execution errors."""
    return [{**error_document(error, new_id()), _OP: _ERROR} for error in errors]


def _record(entry: Document) -> Document:
    return {key: value for key, value in entry.items() if key != _OP}


class Journal:
    """Applies journal entries to their collections and clears them from their instance."""

    def __init__(self, db: MongoDatabase, workflows: str) -> None:
        self._db = db
        self._workflows = workflows

    def apply(self, workflow_id: str, entries: Sequence[Document]) -> None:
        """Make every entry take effect (again, harmlessly, if it already had), then pull them."""
        if not entries:
            return
        by_op: dict[str, list[Document]] = {}
        for entry in entries:
            by_op.setdefault(entry[_OP], []).append(entry)
        for op, collection in (
            (_SUBSCRIBE, SUBSCRIPTIONS),
            (_ERROR, ERRORS),
            (_EVENT, EVENTS),
            (_ARCHIVE, HISTORY),
        ):
            records = [_record(entry) for entry in by_op.get(op, ())]
            self._db.insert_once(collection, records, f"write the {collection} of workflow {workflow_id}")
        ended = [entry["subscription"] for entry in by_op.get(_END, ())]
        if ended:
            subscriptions = self._db.collection(SUBSCRIPTIONS)
            self._db.call(
                f"end subscriptions of workflow {workflow_id}",
                lambda: subscriptions.update_many({"_id": {"$in": ended}}, {"$set": {"terminated": True}}),
            )
        marks = [
            UpdateOne({"_id": entry["event"]}, {"$set": {"is_processed": entry["processed"]}})
            for entry in by_op.get(_MARK, ())
        ]
        if marks:
            events = self._db.collection(EVENTS)
            self._db.call(
                f"mark events of workflow {workflow_id}", lambda: events.bulk_write(marks, ordered=True)
            )
        applied = ids_of(entries)
        workflows = self._db.collection(self._workflows)
        self._db.call(
            f"clear the journal of workflow {workflow_id}",
            lambda: workflows.update_one(
                {"_id": workflow_id}, {"$pull": {JOURNAL: {"_id": {"$in": applied}}}}
            ),
        )

    def repair(self, query: Document, what: str) -> None:
        """Apply the journals that interrupted writes left in the instances matching `query`."""
        workflows = self._db.collection(self._workflows)
        owners = self._db.call(
            what, lambda: list(workflows.find({"$and": [query, has_entries]}, {JOURNAL: 1}))
        )
        for owner in owners:
            entries = owner.get(JOURNAL) or ()
            _log.info(
                "applying %d journal entries of workflow %s left by an interrupted or concurrent write",
                len(entries),
                owner["_id"],
            )
            self.apply(owner["_id"], entries)
