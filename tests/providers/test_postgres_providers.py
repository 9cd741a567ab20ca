"""The PostgreSQL providers against a real server: this test run's own database on the machine's
PostgreSQL (``LITEFLOW_POSTGRES_URL``), each test in a schema or lock namespace of its own. The
restart test runs a private server, so the shared one is never stopped."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from liteflow.core import ExecutionResult, StepBody, Workflow, WorkflowInstance, configure_workflow_host
from liteflow.core.clock import utcnow
from liteflow.core.errors import InvalidArgumentError, ProviderError, SerializationError
from liteflow.core.providers import LockProvider, PersistenceProvider, QueueProvider, QueueType
from liteflow.core.records import Event
from liteflow.core.testing import (
    LockProviderConformance,
    PersistenceProviderConformance,
    QueueProviderConformance,
)
from liteflow_postgres import PostgresLockProvider, PostgresPersistenceProvider, PostgresQueueProvider
from tests.private_postgres import private_postgres
from tests.servers import drop_postgres_schema, postgres_test_database
from tests.support import lock_nodes, wait_until

__all__: list[str] = []

pytestmark = pytest.mark.integration

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/postgres"


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


# ---------------------------------------------------------------------- conformance


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


class TestPostgresQueue(QueueProviderConformance):
    @pytest.fixture(autouse=True)
    def _database(self, dsn: str) -> None:
        self.dsn = dsn

    def create_provider(self) -> QueueProvider:
        return PostgresQueueProvider(self.dsn, schema=new_schema(), dequeue_timeout=0.5)

    def dispose_provider(self, provider: QueueProvider) -> None:
        assert isinstance(provider, PostgresQueueProvider)
        provider.shutdown()
        drop_postgres_schema(self.dsn, provider.schema)


class TestPostgresLock(LockProviderConformance):
    """Two providers stand for two nodes; a namespace per test keeps tests apart."""

    @pytest.fixture(autouse=True)
    def _database(self, dsn: str) -> None:
        self.dsn = dsn
        self.prefix = f"test:{uuid.uuid4().hex}:"

    def create_provider(self) -> LockProvider:
        return PostgresLockProvider(self.dsn, key_prefix=self.prefix)

    def create_peer(self, provider: LockProvider) -> LockProvider:
        return PostgresLockProvider(self.dsn, key_prefix=self.prefix)


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


# ---------------------------------------------------------------------- persistence


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
        ("persistence", 1)
    ]


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
        ("persistence", 1),
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


# ---------------------------------------------------------------------- queue


def test_an_item_taken_but_never_completed_comes_back_after_the_visibility_timeout(
    queue: PostgresQueueProvider, dsn: str, schema: str
) -> None:
    queue.queue_work(QueueType.WORKFLOW, "w-1")
    assert queue.dequeue_work(QueueType.WORKFLOW) == "w-1"
    taken = time.monotonic()
    # Another node: the first one "died" holding the item.
    other = PostgresQueueProvider(dsn, schema=schema, visibility_timeout=0.5, dequeue_timeout=1)
    other.start()
    try:
        assert other.dequeue_work(QueueType.WORKFLOW) == "w-1"
        assert time.monotonic() - taken >= 0.4
        other.complete_work(QueueType.WORKFLOW, "w-1")
    finally:
        other.shutdown()
    assert sql(dsn, f'SELECT count(*) FROM "{schema}".queue') == [(0,)]


def test_an_id_already_waiting_is_not_queued_twice(queue: PostgresQueueProvider) -> None:
    for _ in range(3):
        queue.queue_work(QueueType.WORKFLOW, "w-1")
    assert queue.dequeue_work(QueueType.WORKFLOW) == "w-1"
    queue.complete_work(QueueType.WORKFLOW, "w-1")
    queue.wake_dequeues()
    assert queue.dequeue_work(QueueType.WORKFLOW) is None


def test_a_blocked_dequeue_wakes_on_the_notification_of_a_new_item(
    queue: PostgresQueueProvider, dsn: str, schema: str
) -> None:
    arrived: list[tuple[str | None, float]] = []
    thread = threading.Thread(
        target=lambda: arrived.append((queue.dequeue_work(QueueType.EVENT), time.monotonic()))
    )
    thread.start()
    time.sleep(0.2)  # blocked in its wait, not polling
    producer = PostgresQueueProvider(dsn, schema=schema)
    sent = time.monotonic()
    producer.queue_work(QueueType.EVENT, "e-1")
    thread.join(5)
    producer.shutdown()
    [(item, when)] = arrived
    assert item == "e-1"
    assert when - sent < 0.5, f"woke {when - sent:.3f} s after the item was queued"


def test_wake_dequeues_returns_blocked_dequeues_and_items_in_hand_can_still_complete(
    queue: PostgresQueueProvider, dsn: str, schema: str
) -> None:
    queue.queue_work(QueueType.WORKFLOW, "w-1")
    assert queue.dequeue_work(QueueType.WORKFLOW) == "w-1"
    results: list[str | None] = []
    thread = threading.Thread(target=lambda: results.append(queue.dequeue_work(QueueType.EVENT)))
    thread.start()
    time.sleep(0.1)
    woken = time.monotonic()
    queue.wake_dequeues()
    thread.join(5)
    assert results == [None] and time.monotonic() - woken < 0.5
    queue.complete_work(QueueType.WORKFLOW, "w-1")
    assert sql(dsn, f'SELECT count(*) FROM "{schema}".queue') == [(0,)]
    queue.queue_work(QueueType.WORKFLOW, "w-2")
    assert queue.dequeue_work(QueueType.WORKFLOW) is None  # until start()
    queue.start()
    assert queue.dequeue_work(QueueType.WORKFLOW) == "w-2"


def test_an_idle_queue_does_not_poll(dsn: str, schema: str) -> None:
    """A dequeue blocked for its whole bound costs a query at each end, not one per moment."""
    queue = PostgresQueueProvider(dsn, schema=schema, dequeue_timeout=1)
    queue.start()
    try:
        cpu = time.process_time()
        assert queue.dequeue_work(QueueType.WORKFLOW) is None
        assert time.process_time() - cpu < 0.05
    finally:
        queue.shutdown()


def test_the_listener_reconnects_and_wakes_dequeues_after_its_connection_dies(
    queue: PostgresQueueProvider, dsn: str
) -> None:
    assert terminate_sessions(dsn) >= 1
    queue.queue_work(QueueType.WORKFLOW, "w-1")
    assert queue.dequeue_work(QueueType.WORKFLOW) == "w-1"
    queue.complete_work(QueueType.WORKFLOW, "w-1")
    received: list[str | None] = []
    thread = threading.Thread(target=lambda: received.append(queue.dequeue_work(QueueType.WORKFLOW)))
    thread.start()
    time.sleep(0.2)
    sent = time.monotonic()
    queue.queue_work(QueueType.WORKFLOW, "w-2")
    thread.join(5)
    assert received == ["w-2"] and time.monotonic() - sent < 1.0


# ---------------------------------------------------------------------- lock


def test_a_lock_whose_session_ends_is_reported_lost_and_is_free_for_others(dsn: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    with lock_nodes(PostgresLockProvider) as node:
        holder = node(dsn=dsn, key_prefix=prefix, heartbeat=0.1)
        peer = node(dsn=dsn, key_prefix=prefix)
        assert holder.acquire_lock("w-1") is True
        assert peer.acquire_lock("w-1") is False
        ended = time.monotonic()
        sql(
            dsn,
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objid = (%s::bigint & 4294967295)::oid AND classid = ((%s::bigint >> 32) & 4294967295)::oid",
            holder._key("w-1"),
            holder._key("w-1"),
        )
        wait_until(lambda: not holder.holds_lock("w-1"), 5, what="the holder to notice its lost session")
        assert time.monotonic() - ended < 1.0
        assert peer.acquire_lock("w-1") is True
        holder.release_lock("w-1")  # a lost lock: releasing it must not free the peer's
        assert holder.acquire_lock("w-1") is False
        peer.release_lock("w-1")
        assert holder.acquire_lock("w-1") is True


def test_threads_of_one_provider_exclude_each_other(dsn: str) -> None:
    with lock_nodes(PostgresLockProvider) as node:
        lock = node(dsn=dsn, key_prefix=f"test:{uuid.uuid4().hex}:")
        assert lock.acquire_lock("w-1") is True
        assert lock.acquire_lock("w-1") is False
        lock.release_lock("w-1")
        assert lock.acquire_lock("w-1") is True


def test_acquire_fails_fast_while_the_server_is_down_and_recovers_after() -> None:
    with private_postgres() as server, lock_nodes(PostgresLockProvider) as node:
        lock = node(dsn=server.url)
        assert lock.acquire_lock("w-1") is True
        server.stop()
        started = time.monotonic()
        assert lock.acquire_lock("w-2") is False
        assert time.monotonic() - started < 1.0
        assert not lock.holds_lock("w-1")
        server.start()
        wait_until(lambda: lock.acquire_lock("w-1"), 10, 0.1, "the lock to be granted again")


# ---------------------------------------------------------------------- a restart mid-run


class Counted(StepBody):
    runs: dict[str, int] = {}
    guard = threading.Lock()

    def run(self, context: Any) -> ExecutionResult:
        with Counted.guard:
            key = f"{context.workflow.id}:{context.step.name}"
            Counted.runs[key] = Counted.runs.get(key, 0) + 1
        return ExecutionResult.next()


class RestartData:
    def __init__(self, index: int = 0) -> None:
        self.index = index
        self.payload: Any = None


class RestartWorkflow(Workflow):
    def id(self) -> str:
        return "PostgresRestart"

    def version(self) -> int:
        return 1

    def build(self, builder: Any) -> None:
        # Events published before the wait began count too (all are published after the start).
        builder.start_with(Counted).name("before").wait_for(
            "go", lambda data, context: str(data.index), EPOCH
        ).output("payload", lambda step: step.event_data).then(Counted).name("after")


def test_a_postgresql_restart_mid_run_loses_nothing() -> None:
    """Workflows started before, during and after a restart, with events published around it,
    all complete, and every step ran."""
    count = 60
    with private_postgres() as server:
        host = configure_workflow_host(
            PostgresPersistenceProvider(server.url),
            PostgresQueueProvider(server.url),
            PostgresLockProvider(server.url),
            poll_interval=timedelta(seconds=1),
            default_error_retry_interval=timedelta(milliseconds=200),
        )
        host.register_workflow(RestartWorkflow())
        host.start()
        try:
            ids: list[str] = []
            starter_failed: list[BaseException] = []

            def start_all() -> None:
                try:
                    for index in range(count):
                        ids.append(host.start_workflow("PostgresRestart", 1, RestartData(index)))
                        if index < count // 3:
                            host.publish_event("go", str(index), f"early-{index}")
                except BaseException as exc:
                    starter_failed.append(exc)

            starter = threading.Thread(target=start_all)
            starter.start()
            wait_until(lambda: len(ids) >= count // 4, 30, what="a quarter of the workflows to start")
            server.restart()
            starter.join(60)
            assert starter_failed == []
            for index in range(count // 3, count):
                host.publish_event("go", str(index), f"late-{index}")

            def all_complete() -> bool:
                return all(
                    host.get_workflow_instance(workflow_id).status == WorkflowInstance.COMPLETE
                    for workflow_id in ids
                )

            wait_until(all_complete, 60, 0.2, "every workflow to complete after the restart")
            payloads = [host.get_workflow_instance(workflow_id).data.payload for workflow_id in ids]
        finally:
            host.stop(timeout=10)
    assert payloads == [f"early-{n}" if n < count // 3 else f"late-{n}" for n in range(count)]
    never_ran = [
        (workflow_id, step)
        for workflow_id in ids
        for step in ("before", "after")
        if Counted.runs.get(f"{workflow_id}:{step}", 0) < 1
    ]
    assert never_ran == []
