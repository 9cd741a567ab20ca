"""Reachability of the real servers the integration tests talk to.

One policy for every provider test: in CI (``CI`` set) an unreachable server is a failure,
because a silently skipped suite proves nothing; on a developer's machine it is a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest

__all__ = [
    "drop_database",
    "new_database_name",
    "ping_mongo",
    "require_mongo",
    "require_server",
]


def require_server(name: str, env_var: str, default: str, probe: Callable[[str], None]) -> str:
    """Return the address of server `name` (from `env_var`, else `default`) once `probe` accepts it."""
    address = os.environ.get(env_var) or default
    try:
        probe(address)
    except Exception as error:
        message = f"{name} not reachable at {address}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return address


MONGO_URI_ENV = "LITEFLOW_MONGO_URI"
MONGO_DEFAULT_URI = "mongodb://127.0.0.1:27018/"


def ping_mongo(uri: str) -> None:
    """Raise a one-line error when nothing answers (pymongo's own message spans the topology)."""
    from pymongo import MongoClient
    from pymongo.errors import ConnectionFailure

    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000
    )
    try:
        client.admin.command("ping")
    except ConnectionFailure as exc:
        raise ConnectionError("no answer to a ping within 2 s") from exc
    finally:
        client.close()


def require_mongo() -> str:
    """The MongoDB (or mongoeco wire server) address the tests use."""
    return require_server("MongoDB", MONGO_URI_ENV, MONGO_DEFAULT_URI, ping_mongo)


def new_database_name() -> str:
    return f"liteflow_test_{uuid.uuid4().hex}"


def drop_database(uri: str, name: str) -> None:
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(name)
    finally:
        client.close()
