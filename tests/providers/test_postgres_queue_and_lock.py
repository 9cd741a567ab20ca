"""PostgresQueueProvider and PostgresLockProvider against a real server: this test run's own
database, each test in a schema (queue) or a lock namespace of its own."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from liteflow.core.providers import LockProvider, QueueProvider, QueueType
from liteflow.core.testing import LockProviderConformance, QueueProviderConformance
from liteflow_postgres import PostgresLockProvider, PostgresQueueProvider
from tests.providers.postgres_support import dsn, new_schema, queue, schema, sql, terminate_sessions
from tests.servers import drop_postgres_schema
from tests.support import lock_nodes, wait_until

__all__ = ["dsn", "queue", "schema"]  # the shared fixtures this module uses

pytestmark = pytest.mark.integration


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
