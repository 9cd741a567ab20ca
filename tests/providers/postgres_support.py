"""What the PostgreSQL provider tests share: this test run's database, a schema per test,
raw SQL to look at what the providers wrote, and sessions ended as a server restart ends them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from liteflow_postgres import PostgresPersistenceProvider, PostgresQueueProvider
from tests.servers import drop_postgres_schema, postgres_test_database

__all__ = ["dsn", "new_schema", "queue", "schema", "sql", "store", "terminate_sessions"]


def new_schema() -> str:
    return f"test_{uuid.uuid4().hex[:16]}"


@pytest.fixture
def dsn() -> str:
    return postgres_test_database()


@pytest.fixture
def schema(dsn: str) -> Iterator[str]:
    name = new_schema()
    yield name
    drop_postgres_schema(dsn, name)


@pytest.fixture
def store(dsn: str, schema: str) -> Iterator[PostgresPersistenceProvider]:
    provider = PostgresPersistenceProvider(dsn, schema=schema)
    provider.start()
    yield provider
    provider.close()


@pytest.fixture
def queue(dsn: str, schema: str) -> Iterator[PostgresQueueProvider]:
    provider = PostgresQueueProvider(dsn, schema=schema, visibility_timeout=0.5, dequeue_timeout=5)
    provider.start()
    yield provider
    provider.shutdown()


def sql(dsn: str, statement: str, *parameters: Any) -> list[Any]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(statement, parameters)
        return cursor.fetchall() if cursor.description else []


def terminate_sessions(dsn: str, application_name: str = "liteflow") -> int:
    """End every LiteFlow session on the test database (what a server restart does to them)."""
    rows = sql(
        dsn,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = %s AND pid <> pg_backend_pid()",
        application_name,
    )
    return len(rows)
