"""The MongoDB store's shared state: one document per record, written by compare-and-set."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from liteflow.core.errors import SerializationError
from liteflow.core.serialization import Serializer
from liteflow.core.shared_state import SharedState

from ._database import MongoDatabase

__all__ = ["SHARED_STATE", "SHARED_STATE_INDEXES", "SharedStates"]

SHARED_STATE = "shared_state"
SHARED_STATE_INDEXES = [IndexModel([("kind", ASCENDING), ("key", ASCENDING)], name="kind_key", unique=True)]

Document = dict[str, Any]


class SharedStates:
    """`get`, `list`, `put` and `delete` of the provider's shared-state methods."""

    def __init__(self, db: MongoDatabase, serializer: Serializer) -> None:
        self._db = db
        self._serializer = serializer

    def _state(self, document: Document) -> SharedState:
        kind, key = document["kind"], document["key"]
        try:
            value = self._serializer.from_document(document.get("value"))
        except SerializationError as exc:
            raise SerializationError(f"cannot load shared state {kind}/{key}: {exc}") from exc
        return SharedState(kind, key, value, document["version"])

    def get(self, kind: str, key: str) -> SharedState | None:
        collection = self._db.collection(SHARED_STATE)
        document = self._db.call(
            f"load shared state {kind}/{key}", lambda: collection.find_one({"kind": kind, "key": key})
        )
        return None if document is None else self._state(document)

    def list(self, kind: str, take: int | None) -> list[SharedState]:
        if take == 0:
            return []  # pymongo's limit(0) would mean "no limit"
        collection = self._db.collection(SHARED_STATE)
        documents = self._db.call(
            f"list shared state {kind}",
            lambda: list(collection.find({"kind": kind}).sort("key", ASCENDING).limit(take or 0)),
        )
        return [self._state(document) for document in documents]

    def put(self, state: SharedState) -> bool:
        value = self._serializer.to_document(state.value, f"shared state {state.kind}/{state.key}")
        collection = self._db.collection(SHARED_STATE)
        what = f"write shared state {state.kind}/{state.key}"
        if state.version == 0:

            def insert() -> bool:
                try:
                    collection.insert_one(
                        {"kind": state.kind, "key": state.key, "value": value, "version": 1}
                    )
                except DuplicateKeyError:
                    return False
                return True

            written = self._db.call(what, insert)
        else:
            match = {"kind": state.kind, "key": state.key, "version": state.version}
            update = {"$set": {"value": value}, "$inc": {"version": 1}}
            written = self._db.call(what, lambda: collection.update_one(match, update).matched_count > 0)
        if written:
            state.version += 1
        return written

    def delete(self, kind: str, key: str, version: int | None) -> bool:
        match: Document = {"kind": kind, "key": key}
        if version is not None:
            match["version"] = version
        collection = self._db.collection(SHARED_STATE)
        result = self._db.call(f"delete shared state {kind}/{key}", lambda: collection.delete_one(match))
        return result.deleted_count > 0
