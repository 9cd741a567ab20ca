"""The PostgreSQL providers' connection pool, over real connections (`liteflow_postgres._pool`)."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from liteflow_postgres._pool import Connection, ConnectionPool, PoolExhaustedError
from tests.providers.postgres_support import dsn

__all__ = ["dsn"]  # the shared fixture this module uses

pytestmark = pytest.mark.integration


def _pool(dsn: str, size: int, timeout: float = 5.0) -> tuple[ConnectionPool, list[Connection]]:
    opened: list[Connection] = []

    def connect() -> Connection:
        connection: Connection = psycopg.connect(dsn, autocommit=True)
        opened.append(connection)
        return connection

    return ConnectionPool(connect, size, timeout), opened


def test_a_returned_connection_is_taken_again_instead_of_opening_another(dsn: str) -> None:
    pool, opened = _pool(dsn, size=2)
    try:
        first = pool.get()
        pool.put(first)
        assert pool.get() is first
        assert len(opened) == 1
    finally:
        pool.close()


def test_a_full_pool_makes_the_next_caller_wait_until_a_connection_comes_back(dsn: str) -> None:
    pool, opened = _pool(dsn, size=1)
    held = pool.get()
    got: list[tuple[Any, float]] = []
    waiter = threading.Thread(target=lambda: got.append((pool.get(), time.monotonic())))
    try:
        waiter.start()
        time.sleep(0.2)
        assert got == []  # still waiting: the one connection is held
        returned_at = time.monotonic()
        pool.put(held)
        waiter.join(5)
        assert got and got[0][0] is held
        assert got[0][1] - returned_at < 1.0  # woken by the return, not by its timeout
        assert len(opened) == 1
    finally:
        pool.close()


def test_a_full_pool_fails_after_its_timeout_with_a_retryable_error(dsn: str) -> None:
    pool, _ = _pool(dsn, size=1, timeout=0.3)
    held = pool.get()
    try:
        started = time.monotonic()
        with pytest.raises(PoolExhaustedError, match=r"no connection came free within 0\.3 s"):
            pool.get()
        assert 0.3 <= time.monotonic() - started < 2.0
        assert isinstance(PoolExhaustedError(), psycopg.OperationalError)
    finally:
        pool.put(held)
        pool.close()


def test_closing_closes_idle_connections_now_and_busy_ones_when_they_come_back(dsn: str) -> None:
    pool, opened = _pool(dsn, size=2)
    busy = pool.get()
    idle = pool.get()
    pool.put(idle)
    pool.close()
    assert idle.closed and not busy.closed
    pool.put(busy)
    assert busy.closed
    assert len(opened) == 2


def test_a_connection_returned_inside_a_transaction_is_closed_and_replaced(dsn: str) -> None:
    pool, opened = _pool(dsn, size=1)
    try:
        dirty = pool.get()
        dirty.execute("BEGIN")
        pool.put(dirty)
        assert dirty.closed
        fresh = pool.get()
        assert fresh is not dirty and not fresh.closed
        assert len(opened) == 2
        pool.put(fresh)
    finally:
        pool.close()
