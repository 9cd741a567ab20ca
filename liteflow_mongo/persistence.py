"""MongoDB persistence: workflows that outlive the process and are shared by every node."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from pymongo.errors import DuplicateKeyError

from liteflow.core.changes import WorkflowChanges
from liteflow.core.clock import utcnow
from liteflow.core.errors import InvalidArgumentError
from liteflow.core.providers import PersistenceProvider
from liteflow.core.queries import WorkflowQuery, WorkflowSummary, check_page
from liteflow.core.records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowInstance,
    new_id,
)
from liteflow.core.serialization import DEFAULT_SERIALIZER, Serializer
from liteflow.core.shared_state import SharedState

from ._database import MongoDatabase
from .claims import claim_due
from .documents import (
    SUMMARY_PROJECTION,
    error_document,
    error_from_document,
    event_document,
    event_from_document,
    ids_of,
    pointer_from_document,
    subscription_document,
    subscription_from_document,
    summary_from_document,
    time_filter,
    time_sort,
    workflow_document,
    workflow_from_document,
)
from .journal import ERRORS, EVENTS, HISTORY, JOURNAL, SUBSCRIPTIONS, Journal, error_entries, journal_entries
from .schema import INDEXES, WORKFLOWS, migrate
from .shared_state import SharedStates

__all__ = ["MongoPersistenceProvider", "WORKFLOWS", "INDEXES"]

_log = logging.getLogger("liteflow.mongo")

T = TypeVar("T")
Document = dict[str, Any]

_PURGE_BATCH = 500


def _all_of(*conditions: Document) -> Document:
    return {"$and": list(conditions)}


class MongoPersistenceProvider(PersistenceProvider):
    """Stores workflows, subscriptions, events and errors in a MongoDB database.

    Needs no multi-document transactions (standalone servers lack them): `persist_changes`
    writes the instance together with everything its pass produced (subscriptions, errors,
    events, event marks), embedded in its document as a journal, in one atomic update; the
    journal is then applied to the other collections. If the process dies in between, the
    next reader applies it (see `liteflow_mongo.journal`), so nothing a pass wrote is lost.

    The server must answer a ping within `server_selection_timeout` seconds at construction.
    Later, while the server cannot be reached, every operation is retried (with backoff) for
    up to `retry_timeout` seconds before it raises `ProviderError`. `address` (the server
    without credentials) names it in every message and log line.
    """

    keeps_pointer_history = True

    def __init__(
        self,
        connection_string: str,
        database: str,
        serializer: Serializer | None = None,
        server_selection_timeout: float = 5.0,
        *,
        retry_timeout: float = 30.0,
    ) -> None:
        if not isinstance(connection_string, str) or not connection_string:
            raise InvalidArgumentError(
                f"connection_string must be a non-empty MongoDB URI, got {connection_string!r}"
            )
        if not isinstance(database, str) or not database:
            raise InvalidArgumentError(f"database must be a non-empty name, got {database!r}")
        if serializer is not None and not isinstance(serializer, Serializer):
            raise InvalidArgumentError(f"serializer must be a Serializer, got {type(serializer).__name__}")
        self._serializer = serializer or DEFAULT_SERIALIZER
        self._db = MongoDatabase(
            connection_string, database, INDEXES, server_selection_timeout, retry_timeout
        )
        self.address = self._db.address
        self._journal = Journal(self._db, WORKFLOWS)
        self._shared = SharedStates(self._db, self._serializer)

    @property
    def database_name(self) -> str:
        """The name of the database the provider writes, for messages and operators' tools."""
        return self._db.name

    def __repr__(self) -> str:
        return f"MongoPersistenceProvider({self.address!r}, {self._db.name!r})"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Create the indexes and migrate the store to the latest schema version."""
        self._db.create_indexes()
        migrate(self._db.database(), self._db.call, f"MongoDB database {self._db.name!r} at {self.address}")

    def close(self) -> None:
        """Close the connections; a later call connects again."""
        self._db.close()

    # ------------------------------------------------------------------ workflows

    def create_workflow(self, workflow: WorkflowInstance) -> str:
        document = workflow_document(self._serializer, workflow)
        workflow_id = workflow.id or new_id()
        self._write_workflow(workflow_id, document, [])
        workflow.id = workflow_id
        return workflow_id

    def create_workflow_if_new(self, workflow: WorkflowInstance) -> bool:
        """One insert, refused by the ``_id`` index when the id exists. Should the connection
        die after it was written, the retry is refused too and answers False: the caller then
        finds the instance (the poller runs it)."""
        if not workflow.id:
            raise InvalidArgumentError("create_workflow_if_new() needs an instance with an id")
        document = {"_id": workflow.id, **workflow_document(self._serializer, workflow)}
        workflows = self._db.collection(WORKFLOWS)

        def insert() -> bool:
            try:
                workflows.insert_one(document)
            except DuplicateKeyError:
                return False
            return True

        return self._db.call(f"create workflow {workflow.id}", insert)

    def persist_workflow(
        self, workflow: WorkflowInstance, subscriptions: Sequence[EventSubscription] = ()
    ) -> None:
        self.persist_changes(WorkflowChanges(workflow, subscriptions=list(subscriptions)))

    def persist_changes(self, changes: WorkflowChanges) -> None:
        """One atomic update of the instance's document, its journal included; then the journal
        is applied (see `liteflow_mongo.journal`)."""
        workflow = changes.workflow
        if not workflow.id:
            raise InvalidArgumentError(
                "persist_workflow() needs an instance with an id; create_workflow() it first"
            )
        document = workflow_document(self._serializer, workflow)
        entries = journal_entries(self._serializer, changes)
        if changes.events:
            self._refuse_existing_events([event.id for event in changes.events], workflow.id)
        self._write_workflow(workflow.id, document, entries)
        self._journal.apply(workflow.id, entries)

    def _refuse_existing_events(self, event_ids: list[str], workflow_id: str) -> None:
        events = self._db.collection(EVENTS)
        taken = self._db.call(
            f"check the new events of workflow {workflow_id}",
            lambda: ids_of(events.find({"_id": {"$in": event_ids}}, {"_id": 1})),
        )
        if taken:
            raise InvalidArgumentError(f"cannot write workflow {workflow_id}: events {taken} exist")

    def _write_workflow(self, workflow_id: str, document: Document, entries: list[Document]) -> None:
        """One atomic update: the instance's fields and its journal entries.

        ``$addToSet`` keeps entries left by an interrupted earlier write (a ``replace`` would
        drop them) and makes a retried write add nothing twice.
        """
        update: Document = {"$set": document}
        if entries:
            update["$addToSet"] = {JOURNAL: {"$each": entries}}
        workflows = self._db.collection(WORKFLOWS)
        self._db.call(
            f"write workflow {workflow_id}",
            lambda: workflows.update_one({"_id": workflow_id}, update, upsert=True),
        )

    def quarantine_workflow(self, workflow_id: str, error: ExecutionError) -> bool:
        """One update: the status fields and the error's journal entry; the rest of the
        document, which cannot be loaded, stays as it is."""
        entries = error_entries([error])
        workflows = self._db.collection(WORKFLOWS)
        update = {
            "$set": {"status": WorkflowInstance.SUSPENDED, "next_execution": None},
            "$addToSet": {JOURNAL: {"$each": entries}},
        }
        result = self._db.call(
            f"suspend workflow {workflow_id}", lambda: workflows.update_one({"_id": workflow_id}, update)
        )
        if result.matched_count:
            self._journal.apply(workflow_id, entries)
        else:
            self.persist_errors([error])
        return bool(result.matched_count)

    def get_workflow_instance(self, workflow_id: str) -> WorkflowInstance | None:
        workflows = self._db.collection(WORKFLOWS)
        document = self._db.call(
            f"load workflow {workflow_id}", lambda: workflows.find_one({"_id": workflow_id})
        )
        if document is None:
            return None
        self._journal.apply(workflow_id, document.pop(JOURNAL, None) or ())
        return workflow_from_document(self._serializer, document)

    def get_workflow_instances(
        self,
        status: int | None = None,
        definition_id: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        skip: int = 0,
        take: int = 100,
    ) -> list[WorkflowInstance]:
        check_page(skip, take)
        if take == 0:
            return []  # pymongo's limit(0) would mean "no limit"
        conditions: list[Document] = []
        if status is not None:
            conditions.append({"status": status})
        if definition_id is not None:
            conditions.append({"workflow_definition_id": definition_id})
        if created_from is not None:
            conditions.append(time_filter("create_time", "$gte", created_from))
        if created_to is not None:
            conditions.append(time_filter("create_time", "$lte", created_to))
        query = _all_of(*conditions) if conditions else {}
        workflows = self._db.collection(WORKFLOWS)
        documents = self._db.call(
            "query workflows",
            lambda: list(
                workflows.find(query, {JOURNAL: 0}).sort(time_sort("create_time")).skip(skip).limit(take)
            ),
        )
        return [workflow_from_document(self._serializer, document) for document in documents]

    def find_workflows(self, query: WorkflowQuery) -> list[WorkflowSummary]:
        if query.take == 0:
            return []
        conditions: list[Document] = [
            {name: value}
            for name, value in (
                ("status", query.status),
                ("workflow_definition_id", query.definition_id),
                ("reference", query.reference),
            )
            if value is not None
        ]
        if query.created_from is not None:
            conditions.append(time_filter("create_time", "$gte", query.created_from))
        if query.created_to is not None:
            conditions.append(time_filter("create_time", "$lte", query.created_to))
        direction = -1 if query.newest_first else 1
        order = [(name, direction) for name, _ in time_sort("create_time")]
        workflows = self._db.collection(WORKFLOWS)
        documents = self._db.call(
            "find workflows",
            lambda: list(
                workflows.find(_all_of(*conditions) if conditions else {}, SUMMARY_PROJECTION)
                .sort(order)
                .skip(query.skip)
                .limit(query.take)
            ),
        )
        return [summary_from_document(document) for document in documents]

    def purge_workflows(self, status: int, older_than: datetime) -> int:
        """Deletes in batches, dependents first, so an interrupted purge leaves no orphans."""
        query = _all_of(
            {"status": status},
            {
                "$or": [
                    time_filter("complete_time", "$lt", older_than),
                    _all_of({"complete_time": None}, time_filter("create_time", "$lt", older_than)),
                ]
            },
        )
        workflows = self._db.collection(WORKFLOWS)
        subscriptions = self._db.collection(SUBSCRIPTIONS)
        errors = self._db.collection(ERRORS)
        history = self._db.collection(HISTORY)
        purged = 0
        while True:
            batch = ids_of(
                self._db.call(
                    "find workflows to purge",
                    lambda: list(workflows.find(query, {"_id": 1}).limit(_PURGE_BATCH)),
                )
            )
            if not batch:
                return purged
            owned = {"workflow_id": {"$in": batch}}
            self._db.call("purge subscriptions", partial(subscriptions.delete_many, owned))
            self._db.call("purge execution errors", partial(errors.delete_many, owned))
            self._db.call("purge pointer histories", partial(history.delete_many, owned))
            result = self._db.call(
                "purge workflows",
                partial(workflows.delete_many, _all_of(query, {"_id": {"$in": batch}})),
            )
            purged += result.deleted_count

    def get_runnable_instances(self, as_at: datetime | None = None) -> list[str]:
        query = _all_of(
            {"status": WorkflowInstance.RUNNABLE},
            time_filter("next_execution", "$lte", utcnow() if as_at is None else as_at),
        )
        workflows = self._db.collection(WORKFLOWS)
        return ids_of(
            self._db.call(
                "find runnable workflows",
                lambda: list(workflows.find(query, {"_id": 1}).sort(time_sort("next_execution"))),
            )
        )

    def claim_runnable_instances(self, as_at: datetime, until: datetime) -> list[str]:
        due = _all_of({"status": WorkflowInstance.RUNNABLE}, time_filter("next_execution", "$lte", as_at))
        return claim_due(self._db, WORKFLOWS, due, "next_execution", as_at, until, "claim runnable workflows")

    # ------------------------------------------------------------------ subscriptions

    def create_subscription(self, subscription: EventSubscription) -> str:
        if not subscription.id:
            subscription.id = new_id()
        self._db.insert_once(
            SUBSCRIPTIONS, [subscription_document(subscription)], f"create subscription {subscription.id}"
        )
        return subscription.id

    def get_subscriptions(
        self, event_name: str, event_key: str | None, as_of: datetime
    ) -> list[EventSubscription]:
        self._journal.repair(
            {JOURNAL: {"$elemMatch": {"event_name": event_name, "event_key": event_key}}},
            f"find journalled subscriptions to {event_name}/{event_key}",
        )
        query = _all_of(
            {"event_name": event_name, "event_key": event_key, "terminated": False},
            time_filter("subscribe_as_of", "$lte", as_of, or_unset=True),
        )
        subscriptions = self._db.collection(SUBSCRIPTIONS)
        documents = self._db.call(
            f"find subscriptions to {event_name}/{event_key}",
            lambda: list(subscriptions.find(query).sort(time_sort("subscribe_as_of"))),
        )
        return [subscription_from_document(document) for document in documents]

    def terminate_subscription(self, subscription_id: str) -> None:
        """Marks rather than deletes, so a late repair of the same subscription cannot revive it."""
        subscriptions = self._db.collection(SUBSCRIPTIONS)
        self._db.call(
            f"terminate subscription {subscription_id}",
            lambda: subscriptions.update_one({"_id": subscription_id}, {"$set": {"terminated": True}}),
        )

    # ------------------------------------------------------------------ events

    def create_event(self, event: Event) -> str:
        event_id = event.id or new_id()
        self._db.insert_once(
            EVENTS, [event_document(self._serializer, event, event_id)], f"create event {event_id}"
        )
        event.id = event_id
        return event_id

    def get_event(self, event_id: str) -> Event | None:
        events = self._db.collection(EVENTS)
        document = self._db.call(f"load event {event_id}", lambda: events.find_one({"_id": event_id}))
        return None if document is None else event_from_document(self._serializer, document)

    def get_runnable_events(self, as_at: datetime | None = None) -> list[str]:
        """Also applies any journal an interrupted write left (the poller calls this every
        interval), so an event or mark written only there is not lost."""
        self._journal.repair({}, "find interrupted journals")
        query = _all_of(
            {"is_processed": False},
            time_filter("event_time", "$lte", utcnow() if as_at is None else as_at, or_unset=True),
        )
        events = self._db.collection(EVENTS)
        return ids_of(
            self._db.call(
                "find runnable events",
                lambda: list(events.find(query, {"_id": 1}).sort(time_sort("event_time"))),
            )
        )

    def claim_runnable_events(self, as_at: datetime, until: datetime) -> list[str]:
        """Also applies any journal an interrupted write left (see `get_runnable_events`)."""
        self._journal.repair({}, "find interrupted journals")
        due = _all_of({"is_processed": False}, time_filter("event_time", "$lte", as_at, or_unset=True))
        return claim_due(self._db, EVENTS, due, "event_time", as_at, until, "claim runnable events")

    def get_events(self, event_name: str, event_key: str | None, as_of: datetime) -> list[str]:
        query = _all_of(
            {"event_name": event_name, "event_key": event_key},
            time_filter("event_time", "$gte", as_of, or_unset=True),
        )
        events = self._db.collection(EVENTS)
        return ids_of(
            self._db.call(
                f"find events {event_name}/{event_key}",
                lambda: list(events.find(query, {"_id": 1}).sort(time_sort("event_time"))),
            )
        )

    def mark_event_processed(self, event_id: str) -> None:
        self._mark_event(event_id, True)

    def mark_event_unprocessed(self, event_id: str) -> None:
        self._mark_event(event_id, False)

    def _mark_event(self, event_id: str, processed: bool) -> None:
        events = self._db.collection(EVENTS)
        self._db.call(
            f"mark event {event_id}",
            lambda: events.update_one({"_id": event_id}, {"$set": {"is_processed": processed}}),
        )

    # ------------------------------------------------------------------ errors

    def persist_errors(self, errors: Sequence[ExecutionError]) -> None:
        documents = [error_document(error, new_id()) for error in errors]
        self._db.insert_once(ERRORS, documents, "record execution errors")

    def get_pointer_history(self, workflow_id: str, skip: int = 0, take: int = 100) -> list[ExecutionPointer]:
        check_page(skip, take)
        self._journal.repair({"_id": workflow_id}, f"find the journal of workflow {workflow_id}")
        history = self._db.collection(HISTORY)
        documents = self._db.call(
            f"load the pointer history of workflow {workflow_id}",
            lambda: list(
                history.find({"workflow_id": workflow_id})
                .sort([("batch", 1), ("index", 1)])
                .skip(skip)
                .limit(take)
            ),
        )
        return [
            pointer_from_document(self._serializer, document.get("pointer"), workflow_id, skip + offset)
            for offset, document in enumerate(documents)
        ]

    def get_errors(self, workflow_id: str) -> list[ExecutionError]:
        self._journal.repair({"_id": workflow_id}, f"find the journal of workflow {workflow_id}")
        errors = self._db.collection(ERRORS)
        documents = self._db.call(
            f"load errors of workflow {workflow_id}",
            lambda: list(errors.find({"workflow_id": workflow_id}).sort(time_sort("error_time"))),
        )
        return [error_from_document(document) for document in documents]

    # ------------------------------------------------------------------ shared state

    def get_shared_state(self, kind: str, key: str) -> SharedState | None:
        return self._shared.get(kind, key)

    def get_shared_states(self, kind: str, take: int | None = None) -> list[SharedState]:
        return self._shared.list(kind, take)

    def put_shared_state(self, state: SharedState) -> bool:
        return self._shared.put(state)

    def delete_shared_state(self, kind: str, key: str, version: int | None = None) -> bool:
        return self._shared.delete(kind, key, version)
