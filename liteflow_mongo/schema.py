"""The MongoDB store's collections and indexes, its schema version and its numbered migrations.

The version is one document of the collection ``liteflow_schema``. A store without it is
either new (it gets the latest version) or was written before versions existed (version 1).
Each migration is idempotent, so nodes starting at once may run one side by side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database

from liteflow.core.errors import ProviderError

from .journal import ERRORS, EVENTS, HISTORY, JOURNAL, SUBSCRIPTIONS
from .shared_state import SHARED_STATE, SHARED_STATE_INDEXES

__all__ = ["INDEXES", "LATEST_VERSION", "SCHEMA", "WORKFLOWS", "migrate"]

_log = logging.getLogger("liteflow.mongo")

Document = dict[str, Any]
Call = Callable[[str, Callable[[], Any]], Any]

WORKFLOWS = "workflows"


def _index(name: str, *fields: str) -> IndexModel:
    return IndexModel([(field, ASCENDING) for field in fields], name=name)


#: The indexes each query needs, by collection; created idempotently (same names and keys).
INDEXES: dict[str, list[IndexModel]] = {
    WORKFLOWS: [
        _index("status_next_execution", "status", "next_execution"),
        _index("create_time", "create_time"),
        _index("workflow_definition_id", "workflow_definition_id"),
        _index("reference", "reference"),
        _index("journal_entries", f"{JOURNAL}._id"),
        _index("journal_event_name", f"{JOURNAL}.event_name"),
    ],
    SUBSCRIPTIONS: [
        _index("event_match", "event_name", "event_key", "terminated", "subscribe_as_of"),
        _index("workflow_id", "workflow_id"),
    ],
    EVENTS: [
        _index("event_match", "event_name", "event_key", "event_time"),
        _index("unprocessed", "is_processed", "event_time"),
    ],
    ERRORS: [_index("workflow_id", "workflow_id", "error_time")],
    HISTORY: [_index("workflow_order", "workflow_id", "batch", "index")],
    SHARED_STATE: SHARED_STATE_INDEXES,
}

SCHEMA = "liteflow_schema"
_VERSION_ID = "version"
_LEGACY_PENDING = "pending_subscriptions"


def _journal_legacy_subscriptions(database: Database[Document], call: Call) -> None:
    """2: subscriptions a version-1 store left pending in an instance move into its journal."""
    workflows = database["workflows"]
    owners = call(
        "find pending subscriptions of schema version 1",
        lambda: list(workflows.find({_LEGACY_PENDING: {"$exists": True}}, {_LEGACY_PENDING: 1})),
    )
    for owner in owners:
        entries = [{**entry, "op": "subscribe"} for entry in owner.get(_LEGACY_PENDING) or ()]
        update: Document = {"$unset": {_LEGACY_PENDING: ""}}
        if entries:
            update["$push"] = {JOURNAL: {"$each": entries}}
        still_pending = {"_id": owner["_id"], _LEGACY_PENDING: {"$exists": True}}
        call(
            f"move the pending subscriptions of workflow {owner['_id']}",
            partial(workflows.update_one, still_pending, update),
        )
    names = call("list the indexes of workflows", lambda: list(workflows.index_information()))
    if "pending_event_name" in names:
        call("drop the index pending_event_name", lambda: workflows.drop_index("pending_event_name"))


#: Migration n (1-based) brings a store from version n - 1 to n. Append, never edit.
_MIGRATIONS: tuple[Callable[[Database[Document], Call], None], ...] = (
    lambda database, call: None,  # 1: the collections and indexes, which start() creates anyway
    _journal_legacy_subscriptions,
)
LATEST_VERSION = len(_MIGRATIONS)


def migrate(database: Database[Document], call: Call, describe: str) -> None:
    """Bring the store to the latest version; refuse one newer than this code."""
    schema = database[SCHEMA]
    found = call("read the schema version", lambda: schema.find_one({"_id": _VERSION_ID}))
    if found is not None:
        version = found.get("version")
        if type(version) is not int:
            raise ProviderError(f"{describe}: the schema version document holds {version!r}, not a number")
    else:
        workflows = database["workflows"]
        stored = call("look for stored workflows", lambda: workflows.find_one({}, {"_id": 1}))
        version = 1 if stored is not None else LATEST_VERSION
    if version > LATEST_VERSION:
        raise ProviderError(
            f"{describe} has schema version {version}, newer than this LiteFlow understands "
            f"({LATEST_VERSION}); upgrade LiteFlow"
        )
    for number in range(version + 1, LATEST_VERSION + 1):
        _MIGRATIONS[number - 1](database, call)
        _log.info("%s migrated to schema version %d", describe, number)
    call(
        "write the schema version",
        lambda: schema.update_one({"_id": _VERSION_ID}, {"$max": {"version": LATEST_VERSION}}, upsert=True),
    )
