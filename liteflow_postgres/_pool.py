"""A small pool of autocommit connections: what the providers need of one, and no more.

Every statement of the store takes a connection and gives it back, so the pool's own cost
is paid once per statement, by workers that share one interpreter lock. psycopg_pool's
(a context manager per connection, statistics, background threads that open and check
connections) cost about a quarter of a pass's write; this one is a list. A
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
        #: Idle connections; taking or returning one is a single list operation, atomic by
        #: itself, so workers meet on the lock only when none is idle.
        self._idle: list[Connection] = []
        self._open = 0
        #: Threads waiting for a connection, counted under the lock before they look.
        self._waiters = 0
        self._closed = False

    def get(self) -> Connection:
        try:
            return self._idle.pop()
        except IndexError:
            return self._get_waiting()

    def _get_waiting(self) -> Connection:
        deadline = time.monotonic() + self._timeout
        with self._free:
            self._waiters += 1
            try:
                while not self._idle and self._open >= self._size:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._free.wait(left):
                        raise PoolExhaustedError(f"no connection came free within {self._timeout:g} s")
            finally:
                self._waiters -= 1
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
        if not usable or self._closed:
            connection.close()
            self._forget()
            return
        self._idle.append(connection)
        # Appended before these are read: a waiter counted later finds it; a close that ran
        # meanwhile took the idle list before it, so the connection is closed here.
        if self._closing():
            self._close_idle()
        elif self._waiters:
            with self._free:
                self._free.notify()

    def _closing(self) -> bool:
        """Read again after a change (a plain read of `_closed` would look settled to mypy)."""
        return self._closed

    def _forget(self) -> None:
        with self._free:
            self._open -= 1
            self._free.notify()

    def close(self) -> None:
        """Close the idle connections now, and the others as they come back."""
        with self._free:
            self._closed = True
            self._free.notify_all()
        self._close_idle()

    def _close_idle(self) -> None:
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return
            with self._free:
                self._open -= 1
            connection.close()
