"""A small pool of autocommit connections: what the providers need of one, and no more.

Every statement of the store takes a connection and gives it back, so the pool's own cost
is paid once per statement, by workers that share one interpreter lock. psycopg_pool's
(a context manager per connection, statistics, background threads that open and check
connections) cost about a quarter of a pass's write; this one is a list under a lock. A
connection is opened by the thread that needs it, up to `size` at once; one that comes back
broken, or inside a transaction, is closed instead of kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq

__all__ = ["Connection", "ConnectionPool", "PoolExhaustedError"]

Connection = psycopg.Connection[Any]


class PoolExhaustedError(psycopg.OperationalError):
    """No connection came free in time: as transient as a refused one, so it is retried."""


class ConnectionPool:
    """At most `size` connections from `connect`; `get` waits up to `timeout` seconds for one."""

    def __init__(self, connect: Callable[[], Connection], size: int, timeout: float) -> None:
        self._connect = connect
        self._size = size
        self._timeout = timeout
        self._free = threading.Condition(threading.Lock())
        self._idle: list[Connection] = []
        self._open = 0
        self._closed = False

    def get(self) -> Connection:
        deadline = time.monotonic() + self._timeout
        with self._free:
            while not self._idle and self._open >= self._size:
                left = deadline - time.monotonic()
                if left <= 0 or not self._free.wait(left):
                    raise PoolExhaustedError(f"no connection came free within {self._timeout:g} s")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            self._forget()
            raise

    def put(self, connection: Connection) -> None:
        """Back to the pool, or closed when it cannot be used again (or the pool was closed)."""
        usable = not connection.closed and connection.pgconn.transaction_status == pq.TransactionStatus.IDLE
        with self._free:
            if usable and not self._closed:
                self._idle.append(connection)
                self._free.notify()
                return
        connection.close()
        self._forget()

    def _forget(self) -> None:
        with self._free:
            self._open -= 1
            self._free.notify()

    def close(self) -> None:
        """Close the idle connections now, and the others as they come back."""
        with self._free:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._free.notify_all()
        for connection in idle:
            connection.close()
