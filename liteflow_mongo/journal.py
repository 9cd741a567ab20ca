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
from collections.abc import Callable, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.collection import Collection

from liteflow.core.changes import WorkflowChanges
from liteflow.core.records import ExecutionError, new_id
from liteflow.core.serialization import Serializer

from .documents import error_document, event_document, ids_of, subscription_document

__all__ = [
    "ERRORS",
    "EVENTS",
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
JOURNAL = "journal"

_OP = "op"
_SUBSCRIBE, _END, _ERROR, _EVENT, _MARK = "subscribe", "end", "error", "event", "mark"

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
    return entries


def error_entries(errors: Sequence[ExecutionError]) -> list[Document]:
    return [{**error_document(error, new_id()), _OP: _ERROR} for error in errors]


def _record(entry: Document) -> Document:
    return {key: value for key, value in entry.items() if key != _OP}


class Journal:
    """Applies journal entries to their collections and clears them from their instance."""

    def __init__(
        self,
        call: Callable[[str, Callable[[], Any]], Any],
        collection: Callable[[str], Collection[Document]],
        insert_once: Callable[[str, Sequence[Document], str], None],
        workflows: str,
    ) -> None:
        self._call = call
        self._collection = collection
        self._insert_once = insert_once
        self._workflows = workflows

    def apply(self, workflow_id: str, entries: Sequence[Document]) -> None:
        """Make every entry take effect (again, harmlessly, if it already had), then pull them."""
        if not entries:
            return
        by_op: dict[str, list[Document]] = {}
        for entry in entries:
            by_op.setdefault(entry[_OP], []).append(entry)
        for op, collection in ((_SUBSCRIBE, SUBSCRIPTIONS), (_ERROR, ERRORS), (_EVENT, EVENTS)):
            records = [_record(entry) for entry in by_op.get(op, ())]
            self._insert_once(collection, records, f"write the {collection} of workflow {workflow_id}")
        ended = [entry["subscription"] for entry in by_op.get(_END, ())]
        if ended:
            subscriptions = self._collection(SUBSCRIPTIONS)
            self._call(
                f"end subscriptions of workflow {workflow_id}",
                lambda: subscriptions.update_many({"_id": {"$in": ended}}, {"$set": {"terminated": True}}),
            )
        marks = [
            UpdateOne({"_id": entry["event"]}, {"$set": {"is_processed": entry["processed"]}})
            for entry in by_op.get(_MARK, ())
        ]
        if marks:
            events = self._collection(EVENTS)
            self._call(
                f"mark events of workflow {workflow_id}", lambda: events.bulk_write(marks, ordered=True)
            )
        applied = ids_of(entries)
        workflows = self._collection(self._workflows)
        self._call(
            f"clear the journal of workflow {workflow_id}",
            lambda: workflows.update_one(
                {"_id": workflow_id}, {"$pull": {JOURNAL: {"_id": {"$in": applied}}}}
            ),
        )

    def repair(self, query: Document, what: str) -> None:
        """Apply the journals that interrupted writes left in the instances matching `query`."""
        workflows = self._collection(self._workflows)
        owners = self._call(what, lambda: list(workflows.find({"$and": [query, has_entries]}, {JOURNAL: 1})))
        for owner in owners:
            entries = owner.get(JOURNAL) or ()
            _log.info(
                "applying %d journal entries of workflow %s left by an interrupted or concurrent write",
                len(entries),
                owner["_id"],
            )
            self.apply(owner["_id"], entries)
