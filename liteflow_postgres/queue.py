"""`PostgresQueueProvider`: the work queues as one table, taken with ``FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from functools import partial

import psycopg

from liteflow.core.errors import ProviderError
from liteflow.core.providers import QueueProvider, QueueType

from ._database import Connection, Database, ServerAddress, check_seconds, quoted_schema
from ._direct import LOADERS, Columns, Prepared
from ._schema import QUEUE, migrate

__all__ = ["PostgresQueueProvider"]

_log = logging.getLogger("liteflow.postgres")

#: How long the listener waits for a notification before it looks whether it should stop.
_LISTEN_SECONDS = 1.0
#: The columns a take returns: the row's id and the item.
_TAKEN: Columns = (LOADERS["bigint"], LOADERS["text"])
_MAX_LISTEN_BACKOFF = 2.0


class PostgresQueueProvider(QueueProvider):
    """Hands workflow and event ids to every node sharing one PostgreSQL database.

    An item is a row of ``<schema>.queue``; an id already waiting is not added twice. Queue
    commits do not wait for the disk (``synchronous_commit = off`` on the queue's sessions):
    an item a server crash loses is found again in the store by the hosts' pollers. A
    dequeue takes the oldest waiting row with ``FOR UPDATE SKIP LOCKED`` (consumers never
    wait for each other) and hides it for `visibility_timeout` seconds; `complete_work`
    deletes it. An item taken by a node that died therefore comes back once that time has
    passed. An empty queue is not polled: a blocked dequeue sleeps until a ``NOTIFY`` sent
    with each new item wakes it, or `dequeue_timeout` seconds have passed.

    Connection options are those of `PostgresPersistenceProvider`.
    """

    is_dequeue_blocking = True

    def __init__(
        self,
        dsn: str,
        schema: str = "liteflow",
        *,
        visibility_timeout: float = 60.0,
        dequeue_timeout: float = 2.0,
        connect_timeout: float = 5.0,
        retry_timeout: float = 30.0,
        max_connections: int = 10,
    ) -> None:
        self._schema = quoted_schema(schema)
        self._visibility = check_seconds(visibility_timeout, "visibility_timeout")
        self._dequeue_timeout = check_seconds(dequeue_timeout, "dequeue_timeout")
        self._connect_timeout = check_seconds(connect_timeout, "connect_timeout")
        self._db = Database(
            ServerAddress(dsn),
            connect_timeout=connect_timeout,
            retry_timeout=retry_timeout,
            max_connections=max_connections,
            # The store, not the queue, is what must survive a crash: the pollers find every due
            # instance and unprocessed event there. So a queue commit need not wait for the disk.
            settings=("SET synchronous_commit = off",),
        )
        self.schema = schema
        self.address = str(self._db.address)
        # A channel name is an identifier (at most 63 bytes): a digest keeps any schema's short.
        self.channel = "liteflow_queue_" + hashlib.blake2b(schema.encode(), digest_size=8).hexdigest()
        table = f"{self._schema}.queue"
        # Every workflow is queued, taken and completed once at least: prepared (see `_direct`).
        self._enqueue = Prepared(
            f"WITH queued AS (INSERT INTO {table} (queue, item) VALUES (%s, %s) "
            "ON CONFLICT (queue, item) WHERE taken_until IS NULL DO NOTHING RETURNING queue) "
            "SELECT pg_notify(%s, queue::text) FROM queued"
        )
        self._take = Prepared(
            f"UPDATE {table} SET taken_until = now() + make_interval(secs => %s) WHERE id = "
            f"(SELECT id FROM {table} WHERE queue = %s AND (taken_until IS NULL OR taken_until < now()) "
            "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, item"
        )
        self._complete = Prepared(f"DELETE FROM {table} WHERE id = %s")
        self._mutex = threading.Lock()
        self._waiters = {queue: threading.Condition(self._mutex) for queue in QueueType}
        self._arrivals = dict.fromkeys(QueueType, 0)
        self._draining = False
        self._in_hand: dict[tuple[QueueType, str], list[int]] = {}
        self._in_hand_lock = threading.Lock()
        self._listener_stop: threading.Event | None = None

    def __repr__(self) -> str:
        return f"PostgresQueueProvider({self.address!r}, schema={self.schema!r})"

    def start(self) -> None:
        """Create or migrate the queue table and listen for new items."""
        self._db.run(
            "create or migrate the queue table",
            lambda connection: migrate(connection, self._schema, "queue", QUEUE, repr(self)),
        )
        with self._mutex:
            self._draining = False
            if self._listener_stop is None:
                self._listener_stop = threading.Event()
                threading.Thread(
                    target=self._listen,
                    args=(self._listener_stop,),
                    name="liteflow-postgres-listener",
                    daemon=True,
                ).start()

    def queue_work(self, queue: QueueType, data: str) -> None:
        queue = QueueType(queue)
        self._db.run(
            f"queue {data} on the {queue.name.lower()} queue",
            lambda connection: self._enqueue.execute(connection, (int(queue), data, self.channel)),
        )

    def dequeue_work(self, queue: QueueType) -> str | None:
        queue = QueueType(queue)
        deadline = time.monotonic() + self._dequeue_timeout
        waiters = self._waiters[queue]
        while True:
            with self._mutex:
                if self._draining:
                    return None
                seen = self._arrivals[queue]
            item = self._take_one(queue, deadline)
            remaining = deadline - time.monotonic()
            if item is not None or remaining <= 0:
                return item
            # Woken by a new item, or at the deadline for one last look: an item whose
            # visibility timeout ran out comes back without a notification.
            with self._mutex:
                waiters.wait_for(partial(self._woken, queue, seen), remaining)

    def _woken(self, queue: QueueType, seen: int) -> bool:
        """Whether an item arrived on `queue` since `seen`, or dequeues are to return; hold `_mutex`."""
        return self._arrivals[queue] != seen or self._draining

    def _take_one(self, queue: QueueType, deadline: float) -> str | None:
        """The oldest waiting item, or None; a server that cannot be reached before `deadline`
        counts as an empty queue (the worker comes back, and the outage is logged once)."""
        try:
            rows = self._db.run(
                f"take from the {queue.name.lower()} queue",
                lambda connection: self._take.fetch(connection, (self._visibility, int(queue)), _TAKEN),
                retry_for=max(0.0, deadline - time.monotonic()),
            )
        except ProviderError as exc:
            if isinstance(exc.__cause__, psycopg.OperationalError):
                return None
            raise
        if not rows:
            return None
        ((row_id, item),) = rows
        with self._in_hand_lock:
            self._in_hand.setdefault((queue, item), []).append(row_id)
        return str(item)

    def complete_work(self, queue: QueueType, data: str) -> None:
        """Delete the item's row: it will not come back."""
        with self._in_hand_lock:
            row_ids = self._in_hand.pop((QueueType(queue), data), [])
        if row_ids:
            self._db.run(f"complete {data}", lambda connection: self._complete_rows(connection, row_ids))

    def _complete_rows(self, connection: Connection, row_ids: list[int]) -> None:
        for row_id in row_ids:  # one, unless the same item was taken twice
            self._complete.execute(connection, (row_id,))

    def wake_dequeues(self) -> None:
        with self._mutex:
            self._draining = True
            for waiters in self._waiters.values():
                waiters.notify_all()

    def shutdown(self) -> None:
        """Wake blocked dequeues, stop listening and close the connections. Items taken but
        not completed come back after the visibility timeout."""
        self.wake_dequeues()
        with self._mutex:
            stop, self._listener_stop = self._listener_stop, None
        if stop is not None:
            stop.set()
        with self._in_hand_lock:
            self._in_hand.clear()
        self._db.close()

    def _arrived(self, queue: QueueType | None) -> None:
        """One new item wakes one blocked dequeue (the others would find nothing); None wakes all."""
        with self._mutex:
            for each in QueueType if queue is None else (queue,):
                self._arrivals[each] += 1
                if queue is None:
                    self._waiters[each].notify_all()
                else:
                    self._waiters[each].notify()

    def _listen(self, stop: threading.Event) -> None:
        """The listener thread: one connection doing ``LISTEN``, opened again when it dies."""
        connection: Connection | None = None
        pause = 0.1
        try:
            while not stop.is_set():
                try:
                    if connection is None:
                        connection = self._db.address.connect(self._connect_timeout)
                        connection.execute(f'LISTEN "{self.channel}"')
                        pause = 0.1
                        self._arrived(None)  # items queued while nobody listened
                    for notification in connection.notifies(timeout=_LISTEN_SECONDS):
                        self._arrived(_queue_of(notification.payload))
                except (psycopg.Error, ProviderError) as exc:
                    _log.warning(
                        "queue listener on %s lost its connection (%s); reconnecting", self.address, exc
                    )
                    if connection is not None:
                        connection.close()
                        connection = None
                    stop.wait(pause)
                    pause = min(pause * 2, _MAX_LISTEN_BACKOFF)
        finally:
            if connection is not None:
                connection.close()


def _queue_of(payload: str) -> QueueType | None:
    try:
        return QueueType(int(payload))
    except ValueError:
        return None
