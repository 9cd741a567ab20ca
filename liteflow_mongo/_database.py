"""The MongoDB store's connection: connecting (again after `close`), retrying while the server
is unreachable, creating indexes, and inserting documents once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timezone
from functools import partial
from typing import Any, TypeVar

from pymongo import IndexModel, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    InvalidName,
    PyMongoError,
)

from liteflow.core.errors import InvalidArgumentError, ProviderError

__all__ = ["MongoDatabase", "positive_seconds"]

_log = logging.getLogger("liteflow.mongo")

T = TypeVar("T")
Document = dict[str, Any]

_DUPLICATE_KEY = 11000
_MAX_RETRY_PAUSE = 1.0


def _address(connection_string: str) -> str:
    """The scheme and hosts of a connection string, without credentials or options, for messages."""
    scheme, separator, rest = connection_string.partition("://")
    if not separator:
        return connection_string
    hosts = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    return f"{scheme}://{hosts}"


def positive_seconds(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgumentError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


class MongoDatabase:
    """One database on one server. The server must answer a ping within
    `server_selection_timeout` seconds at construction; later, every operation is retried
    (with backoff) for up to `retry_timeout` seconds while the server cannot be reached."""

    def __init__(
        self,
        connection_string: str,
        database: str,
        indexes: dict[str, list[IndexModel]],
        server_selection_timeout: float,
        retry_timeout: float,
    ) -> None:
        self._timeout_ms = int(positive_seconds(server_selection_timeout, "server_selection_timeout") * 1000)
        self._retry_timeout = positive_seconds(retry_timeout, "retry_timeout")
        self._connection_string = connection_string
        self.name = database
        self._indexes = indexes
        #: The server without credentials: it names the server in every message and log line.
        self.address = _address(connection_string)
        self._client: MongoClient[Document] | None = None
        self._client_lock = threading.Lock()
        self._connected()
        self._indexes_ready = False
        self._indexes_lock = threading.Lock()

    def _connected(self) -> Database[Document]:
        """The database, connecting (again, after `close`) when there is no client."""
        with self._client_lock:
            if self._client is None:
                self._client = self._connect()
            return self._client[self.name]

    def _connect(self) -> MongoClient[Document]:
        timeout_ms = self._timeout_ms
        try:
            client: MongoClient[Document] = MongoClient(
                self._connection_string,
                tz_aware=True,
                tzinfo=timezone.utc,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                retryReads=True,
                retryWrites=True,
                appname="liteflow",
            )
        except (ConfigurationError, ValueError, TypeError) as exc:
            raise InvalidArgumentError(f"invalid MongoDB connection string {self.address!r}: {exc}") from exc
        try:
            client[self.name]
            client.admin.command("ping")
        except InvalidName as exc:
            client.close()
            raise InvalidArgumentError(f"invalid MongoDB database name {self.name!r}: {exc}") from exc
        except ConnectionFailure as exc:
            client.close()
            raise ProviderError(
                f"MongoDB at {self.address} did not answer within {timeout_ms / 1000:g} s: {exc}"
            ) from exc
        except PyMongoError as exc:  # it answered, but refused us (authentication, TLS, ...)
            client.close()
            raise ProviderError(f"MongoDB at {self.address} rejected the connection: {exc}") from exc
        return client

    def call(self, what: str, operation: Callable[[], T]) -> T:
        """Run `operation`, retrying while the server is unreachable (a restart or failover
        takes longer than pymongo's single retry); every operation given here is idempotent."""
        deadline = time.monotonic() + self._retry_timeout
        pause = 0.05
        lost_at: float | None = None
        while True:
            try:
                result = operation()
            except ConnectionFailure as exc:
                now = time.monotonic()
                if lost_at is None:
                    lost_at = now
                    _log.warning(
                        "MongoDB at %s unreachable (%s: %s); retrying for up to %.0f s",
                        self.address,
                        what,
                        exc,
                        self._retry_timeout,
                    )
                if now + pause > deadline:
                    raise ProviderError(
                        f"MongoDB at {self.address} unreachable for {now - lost_at:.1f} s ({what}): {exc}"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, _MAX_RETRY_PAUSE)
                continue
            except PyMongoError as exc:
                raise ProviderError(f"MongoDB at {self.address}: {what} failed: {exc}") from exc
            if lost_at is not None:
                _log.warning(
                    "MongoDB at %s reachable again after %.1f s (%s)",
                    self.address,
                    time.monotonic() - lost_at,
                    what,
                )
            return result

    def create_indexes(self) -> None:
        """Create the indexes (idempotent: an existing index of the same name and keys is kept)."""
        with self._indexes_lock:
            for name, indexes in self._indexes.items():
                self.call(
                    f"create indexes on {name}", partial(self._connected()[name].create_indexes, indexes)
                )
            self._indexes_ready = True

    def collection(self, name: str) -> Collection[Document]:
        """A collection, its indexes created first if `start` was not called."""
        if not self._indexes_ready:
            self.create_indexes()
        return self._connected()[name]

    def insert_once(self, name: str, documents: Sequence[Document], what: str) -> None:
        """Insert documents by ``_id``, leaving any that already exist untouched.

        Safe to repeat (a retry, a repair racing the writer) and never revives a
        subscription that was terminated in the meantime.
        """
        if not documents:
            return
        collection = self.collection(name)
        requests = [
            UpdateOne(
                {"_id": document["_id"]},
                {"$setOnInsert": {key: value for key, value in document.items() if key != "_id"}},
                upsert=True,
            )
            for document in documents
        ]

        def write() -> None:
            try:
                collection.bulk_write(requests, ordered=False)
            except BulkWriteError as exc:  # concurrent upserts of one _id: it exists, as wanted
                details = exc.details
                if details.get("writeConcernErrors") or any(
                    error.get("code") != _DUPLICATE_KEY for error in details.get("writeErrors", ())
                ):
                    raise

        self.call(what, write)

    def database(self) -> Database[Document]:
        return self._connected()

    def close(self) -> None:
        """Close the connections; a later call connects again."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
