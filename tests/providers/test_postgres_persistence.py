"""PostgresPersistenceProvider against a real server: this test run's own database on the
machine's PostgreSQL (``LITEFLOW_POSTGRES_URL``), each test in a schema of its own."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from liteflow.core import WorkflowInstance
from liteflow.core.clock import utcnow
from liteflow.core.errors import InvalidArgumentError, ProviderError, SerializationError
from liteflow.core.providers import PersistenceProvider, QueueProvider
from liteflow.core.records import Event
from liteflow.core.shared_state import SharedState
from liteflow.core.testing import PersistenceProviderConformance
from liteflow_postgres import PostgresLockProvider, PostgresPersistenceProvider, PostgresQueueProvider
from liteflow_postgres._schema import PERSISTENCE
from tests.providers.postgres_support import dsn, new_schema, schema, sql, store, terminate_sessions
from tests.servers import drop_postgres_schema

__all__ = ["dsn", "schema", "store"]  # the shared fixtures this module uses

pytestmark = pytest.mark.integration

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/postgres"


class TestPostgresPersistence(PersistenceProviderConformance):
    """The persistence contract, each test in a schema of its own."""

    @pytest.fixture(autouse=True)
    def _database(self, dsn: str) -> None:
        self.dsn = dsn

    def create_provider(self) -> PersistenceProvider:
        return PostgresPersistenceProvider(self.dsn, schema=new_schema())

    def dispose_provider(self, provider: PersistenceProvider) -> None:
        assert isinstance(provider, PostgresPersistenceProvider)
        provider.close()
        drop_postgres_schema(self.dsn, provider.schema)


# ---------------------------------------------------------------------- construction


@pytest.mark.parametrize("make", [PostgresPersistenceProvider, PostgresQueueProvider, PostgresLockProvider])
def test_an_unreachable_server_fails_at_construction_naming_the_address(make: Any) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"127\.0\.0\.1:1/postgres"):
        make(UNREACHABLE, connect_timeout=2)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"dsn": ""}, "non-empty"),
        ({"dsn": "host=127.0.0.1 nonsense"}, "invalid PostgreSQL connection string"),
        ({"schema": "bad-name"}, "schema must be"),
        ({"schema": 'x"; DROP TABLE y; --'}, "schema must be"),
        ({"retry_timeout": 0}, "retry_timeout"),
        ({"max_connections": 0}, "max_connections"),
    ],
)
def test_bad_arguments_are_refused_at_construction(
    dsn: str, arguments: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=complaint):
        PostgresPersistenceProvider(**{"dsn": dsn, **arguments})


def test_the_password_never_appears_in_messages() -> None:
    with pytest.raises(ProviderError) as failure:
        PostgresPersistenceProvider("postgresql://postgres:hunter2@127.0.0.1:1/postgres", connect_timeout=1)
    assert "hunter2" not in str(failure.value)


# ---------------------------------------------------------------------- the store


def test_payloads_are_jsonb_that_operators_can_query(store: PostgresPersistenceProvider, dsn: str) -> None:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Order"
    instance.create_time = utcnow()
    instance.data = {"customer": "ann", "total": 12}
    workflow_id = store.create_workflow(instance)
    event = Event()
    event.event_name, event.event_key, event.event_data = "paid", "o-1", {"amount": 12}
    event.event_time = utcnow()
    store.create_event(event)
    table = f'"{store.schema}"'
    assert sql(dsn, f"SELECT data->>'customer', pg_typeof(data)::text FROM {table}.workflows") == [
        ("ann", "jsonb")
    ]
    assert sql(dsn, f"SELECT id FROM {table}.workflows WHERE (data->>'total')::int > 10") == [(workflow_id,)]
    assert sql(dsn, f"SELECT event_data->'amount' FROM {table}.events") == [(12,)]


def test_a_value_postgresql_cannot_hold_fails_and_stores_nothing(
    store: PostgresPersistenceProvider, dsn: str
) -> None:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Order"
    instance.data = {"note": "a\x00b"}
    with pytest.raises(SerializationError, match="PostgreSQL refused it"):
        store.create_workflow(instance)
    assert instance.id == ""
    assert sql(dsn, f'SELECT count(*) FROM "{store.schema}".workflows') == [(0,)]


def test_a_new_store_is_at_the_latest_schema_version_and_a_second_start_is_harmless(
    store: PostgresPersistenceProvider, dsn: str
) -> None:
    store.start()
    assert sql(dsn, f'SELECT component, version FROM "{store.schema}".liteflow_schema') == [
        ("persistence", len(PERSISTENCE))
    ]


def test_a_store_of_schema_version_1_is_migrated_and_its_rows_still_load(
    store: PostgresPersistenceProvider, dsn: str
) -> None:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Order"
    instance.data = {"n": 1}
    workflow_id = store.create_workflow(instance)
    schema = f'"{store.schema}"'
    _undo_claims(dsn, schema)
    sql(dsn, f"DROP TABLE {schema}.shared_state")
    sql(dsn, f"DROP INDEX {schema}.workflows_reference")
    sql(dsn, f"ALTER TABLE {schema}.execution_errors DROP COLUMN traceback")
    sql(dsn, f"ALTER TABLE {schema}.workflows DROP COLUMN actions")
    sql(dsn, f"UPDATE {schema}.liteflow_schema SET version = 1 WHERE component = 'persistence'")
    older = PostgresPersistenceProvider(dsn, schema=store.schema)
    try:
        older.start()
        loaded = older.get_workflow_instance(workflow_id)
        assert loaded is not None and loaded.data == {"n": 1} and loaded.actions == []
    finally:
        older.close()
    assert sql(dsn, f"SELECT version FROM {schema}.liteflow_schema WHERE component = 'persistence'") == [
        (len(PERSISTENCE),)
    ]


def test_a_store_of_schema_version_2_gets_the_shared_state_table(
    store: PostgresPersistenceProvider, dsn: str
) -> None:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Order"
    workflow_id = store.create_workflow(instance)
    _undo_claims(dsn, f'"{store.schema}"')
    sql(dsn, f'DROP TABLE "{store.schema}".shared_state')
    sql(dsn, f"UPDATE \"{store.schema}\".liteflow_schema SET version = 2 WHERE component = 'persistence'")
    older = PostgresPersistenceProvider(dsn, schema=store.schema)
    try:
        older.start()
        assert older.put_shared_state(SharedState("schedule", "daily", {"cron": "0 9 * * *"}))
        assert older.get_workflow_instance(workflow_id) is not None
    finally:
        older.close()


def _undo_claims(dsn: str, schema: str) -> None:
    """Take the tables back to before migration 4 (the claims of polls)."""
    for table in ("workflows", "events"):
        sql(dsn, f"ALTER TABLE {schema}.{table} DROP COLUMN queued_until")


def test_a_store_of_schema_version_3_gets_claims_and_its_due_instances_are_claimed(
    store: PostgresPersistenceProvider, dsn: str
) -> None:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Order"
    instance.next_execution = utcnow()
    workflow_id = store.create_workflow(instance)
    _undo_claims(dsn, f'"{store.schema}"')
    sql(dsn, f"UPDATE \"{store.schema}\".liteflow_schema SET version = 3 WHERE component = 'persistence'")
    older = PostgresPersistenceProvider(dsn, schema=store.schema)
    try:
        older.start()
        now = utcnow()
        assert older.claim_runnable_instances(now, now + timedelta(seconds=20)) == [workflow_id]
        assert older.claim_runnable_instances(now, now + timedelta(seconds=20)) == []
    finally:
        older.close()


def test_a_store_from_a_newer_liteflow_is_refused(store: PostgresPersistenceProvider, dsn: str) -> None:
    sql(dsn, f"UPDATE \"{store.schema}\".liteflow_schema SET version = 99 WHERE component = 'persistence'")
    newer = PostgresPersistenceProvider(dsn, schema=store.schema)
    with pytest.raises(ProviderError, match="schema version 99, newer than this LiteFlow understands"):
        newer.start()
    newer.close()


def test_nodes_starting_at_once_create_the_tables_once(dsn: str, schema: str) -> None:
    providers = [PostgresPersistenceProvider(dsn, schema=schema) for _ in range(4)]
    queues = [PostgresQueueProvider(dsn, schema=schema) for _ in range(2)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(providers) + len(queues))

    def start(provider: PersistenceProvider | QueueProvider) -> None:
        barrier.wait()
        try:
            provider.start()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(each,)) for each in [*providers, *queues]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for provider in providers:
        provider.close()
    for each in queues:
        each.shutdown()
    assert failures == []
    assert sorted(sql(dsn, f'SELECT component, version FROM "{schema}".liteflow_schema')) == [
        ("persistence", len(PERSISTENCE)),
        ("queue", 1),
    ]


def test_connections_lost_mid_run_are_replaced_without_an_error(
    store: PostgresPersistenceProvider, dsn: str
) -> None:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Order"
    workflow_id = store.create_workflow(instance)
    assert terminate_sessions(dsn) >= 1
    loaded = store.get_workflow_instance(workflow_id)
    assert loaded is not None and loaded.id == workflow_id


def test_a_closed_store_opens_its_connections_again(store: PostgresPersistenceProvider) -> None:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Order"
    workflow_id = store.create_workflow(instance)
    store.close()
    assert store.get_workflow_instance(workflow_id) is not None
