"""A RabbitMQ queue provider, so that several nodes can share LiteFlow's work queues."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from urllib.parse import parse_qs, quote, urlsplit

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError, ConsumerCancelled
from pika.spec import Basic, BasicProperties

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.providers import QueueProvider, QueueType

__all__ = ["RabbitMQQueueProvider"]

_log = logging.getLogger("liteflow.rabbitmq")

#: What a dead or unreachable broker raises; such a connection is dropped and opened again.
#: (pika's exceptions often have an empty str(), so messages show their repr.)
_TRANSIENT_ERRORS = (AMQPError, OSError)

#: Connection settings that keep an unreachable or blocked broker from hanging a call for long;
#: the same parameters given in the URL's query string take precedence.
_CONNECTION_DEFAULTS: dict[str, float] = {
    "connection_attempts": 1,
    "socket_timeout": 3.0,
    "stack_timeout": 5.0,
    "blocked_connection_timeout": 5.0,
}

_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 2.0

#: Persistent messages survive a broker restart (the queues are durable too).
_PERSISTENT = BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, content_type="text/plain")


class _Link:
    """One connection and channel; pika is not thread-safe, so one thread uses it at a time."""

    def __init__(self, parameters: pika.URLParameters, address: str, queues: list[str]) -> None:
        try:
            self.connection = BlockingConnection(parameters)
        except _TRANSIENT_ERRORS as error:
            raise ProviderError(f"cannot connect to RabbitMQ at {address}: {error!r}") from error
        try:
            self.channel: BlockingChannel = self.connection.channel()
            for name in queues:
                self.channel.queue_declare(name, durable=True)
        except _TRANSIENT_ERRORS as error:
            self.close()
            raise ProviderError(
                f"cannot declare the queues {queues} on RabbitMQ at {address}: {error!r}"
            ) from error

    def close(self) -> None:
        """Close quietly: the connection may already be dead, which is why it is being closed."""
        try:
            if self.connection.is_open:
                self.connection.close()
        except _TRANSIENT_ERRORS as error:
            _log.debug("closing a RabbitMQ connection failed: %r", error)


class _Consumer(_Link):
    """A consuming thread's own connection: deliveries are buffered here and acked on this channel."""

    def __init__(
        self, parameters: pika.URLParameters, address: str, queues: list[str], prefetch: int
    ) -> None:
        super().__init__(parameters, address, queues)
        self.owner = threading.current_thread()
        #: Held by the owner while it uses the connection, and by ``shutdown`` to close it.
        self.lock = threading.Lock()
        self.stopping = False
        #: Set by ``wake_dequeues``: take nothing more, but deliveries in hand can still be acked.
        self.draining = False
        #: Set when the broker cancels a consumer (its queue was deleted): reconnect to redeclare.
        self.cancelled = False
        self._buffers: dict[str, deque[tuple[int, bytes]]] = {}
        self._unacked: dict[tuple[str, str], list[int]] = {}
        try:
            self.channel.basic_qos(prefetch_count=prefetch)
            self.channel.add_on_cancel_callback(self._on_cancel)
        except _TRANSIENT_ERRORS as error:
            self.close()
            raise ProviderError(f"cannot set prefetch on RabbitMQ at {address}: {error!r}") from error

    def take(self, name: str, deadline: float) -> str | None:
        """The next delivery from queue `name`, waiting until `deadline` or until stopped."""
        buffer = self._buffers.get(name)
        if buffer is None:
            buffer = self._buffers[name] = deque()

            def on_message(
                _channel: BlockingChannel, method: Basic.Deliver, _properties: BasicProperties, body: bytes
            ) -> None:
                if method.delivery_tag is not None:
                    buffer.append((method.delivery_tag, body))

            self.channel.basic_consume(name, on_message)
        while not self.stopping and not self.draining:
            if buffer:
                tag, body = buffer.popleft()
                data = body.decode("utf-8", errors="replace")
                self._unacked.setdefault((name, data), []).append(tag)
                return data
            if self.cancelled:
                raise ConsumerCancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.connection.process_data_events(time_limit=remaining)
        return None

    def _on_cancel(self, _frame: object) -> None:
        self.cancelled = True

    def ack(self, name: str, data: str) -> bool:
        """Ack one delivery of `data` from `name`; False if this channel holds none."""
        tags = self._unacked.get((name, data))
        if not tags:
            return False
        tag = tags.pop(0)
        if not tags:
            del self._unacked[name, data]
        self.channel.basic_ack(tag)
        return True

    def wake(self) -> None:
        """Make the owner's ``process_data_events`` return now (the one thread-safe pika call)."""
        try:
            self.connection.add_callback_threadsafe(lambda: None)
        except _TRANSIENT_ERRORS as error:
            _log.debug("waking a closed RabbitMQ consumer: %r", error)

    def close(self) -> None:
        """Unacked and buffered deliveries go back to the queue when the channel closes."""
        self._buffers.clear()
        self._unacked.clear()
        super().close()


class _ThreadState(threading.local):
    """Per consuming thread: its consumer, and when to try again after losing the broker."""

    def __init__(self) -> None:
        self.consumer: _Consumer | None = None
        self.retry_at = 0.0
        self.backoff = _FIRST_BACKOFF


class RabbitMQQueueProvider(QueueProvider):
    """Work queues in RabbitMQ: durable queues ``{prefix}.workflows`` and ``{prefix}.events``.

    Delivery is at least once. ``queue_work`` returns only once the broker has confirmed the
    persistent message; if it cannot within ``publish_timeout`` seconds (reconnecting as needed)
    it raises ``ProviderError`` rather than drop the id, so the caller knows it was not queued.
    A dequeued id is acked only by ``complete_work``; if the consumer's connection dies first
    (a node crash, ``shutdown``), the broker delivers it again.

    Threads: pika connections are not thread-safe. Publishing shares one connection under a
    lock. Each consuming thread gets its own connection and channel, and an ack must go to the
    channel that delivered the message, so ``complete_work`` must be called from the thread that
    dequeued the id (as the host's workers do); elsewhere it logs a warning and the id is
    delivered again. A consumer's heartbeats are answered only while its thread is inside this
    provider: a step running longer than about twice the heartbeat interval (the broker's, or
    ``?heartbeat=`` in the URL) loses the connection and its id is delivered again.

    Lost connections are dropped and opened again on next use, with a short backoff, logging a
    WARNING with the broker's address.
    """

    is_dequeue_blocking = True

    def __init__(
        self,
        url: str = "amqp://guest:guest@127.0.0.1:5672/%2F",
        queue_prefix: str = "liteflow",
        prefetch: int = 1,
        dequeue_timeout: float = 1.0,
        publish_timeout: float = 10.0,
    ) -> None:
        """`prefetch`: deliveries the broker may push to one consuming thread ahead of its acks
        (1 shares work most evenly between nodes); `dequeue_timeout`: the longest an empty
        ``dequeue_work`` waits; `publish_timeout`: how long ``queue_work`` keeps retrying."""
        self._parameters, address = self._parse_url(url)
        if not isinstance(queue_prefix, str) or not queue_prefix:
            raise InvalidArgumentError(f"queue_prefix must be a non-empty string, got {queue_prefix!r}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or not 1 <= prefetch <= 65535:
            raise InvalidArgumentError(f"prefetch must be an integer from 1 to 65535, got {prefetch!r}")
        for name, value in (("dequeue_timeout", dequeue_timeout), ("publish_timeout", publish_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise InvalidArgumentError(f"{name} must be a positive number of seconds, got {value!r}")
        #: The broker's address without credentials, as named in errors and log records.
        self.address = address
        #: The RabbitMQ queue behind each LiteFlow queue.
        self.queue_names = {
            QueueType.WORKFLOW: f"{queue_prefix}.workflows",
            QueueType.EVENT: f"{queue_prefix}.events",
        }
        self._prefetch = prefetch
        self._dequeue_timeout = float(dequeue_timeout)
        self._publish_timeout = float(publish_timeout)
        self._publish_lock = threading.Lock()
        self._publisher: _Link | None = None
        #: Guards the consumer registry and the generation; notified by ``shutdown``.
        self._state = threading.Condition()
        self._generation = 0
        self._draining = False
        self._consumers: list[_Consumer] = []
        self._keepalive_generation: int | None = None
        self._local = _ThreadState()

    @staticmethod
    def _parse_url(url: str) -> tuple[pika.URLParameters, str]:
        if not isinstance(url, str):
            raise InvalidArgumentError(f"the RabbitMQ url must be a string, got {type(url).__name__}")
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as error:
            raise InvalidArgumentError(f"malformed RabbitMQ url: {error}") from None
        if parts.scheme not in ("amqp", "amqps") or not host:
            raise InvalidArgumentError(
                "the RabbitMQ url must look like amqp://user:password@host:port/vhost (or amqps://); "
                f"got scheme {parts.scheme!r} and host {host!r}"
            )
        try:
            parameters = pika.URLParameters(url)
        except (ValueError, IndexError, TypeError) as error:
            raise InvalidArgumentError(f"malformed RabbitMQ url for host {host}: {error}") from None
        given = parse_qs(parts.query)
        for name, value in _CONNECTION_DEFAULTS.items():
            if name not in given:
                setattr(parameters, name, value)
        vhost = quote(parameters.virtual_host, safe="")
        return parameters, f"{parts.scheme}://{parameters.host}:{parameters.port}/{vhost}"

    def _queue_name(self, queue: QueueType) -> str:
        try:
            return self.queue_names[QueueType(queue)]
        except ValueError:
            raise InvalidArgumentError(f"unknown queue {queue!r}; expected a QueueType") from None

    def _open_link(self) -> _Link:
        link = _Link(self._parameters, self.address, list(self.queue_names.values()))
        try:
            link.channel.confirm_delivery()
        except _TRANSIENT_ERRORS as error:
            link.close()
            raise ProviderError(
                f"cannot enable publisher confirms on RabbitMQ at {self.address}: {error!r}"
            ) from error
        return link

    def start(self) -> None:
        """Connect and declare the queues now, so a wrong address fails here and not in a worker."""
        with self._publish_lock:
            if self._publisher is None:
                self._publisher = self._open_link()
        with self._state:
            self._draining = False
            for consumer in self._consumers:
                consumer.draining = False
            if self._keepalive_generation == self._generation:
                return
            self._keepalive_generation = self._generation
            generation = self._generation
        threading.Thread(
            target=self._keep_publisher_alive,
            args=(generation,),
            name="liteflow-rabbitmq-keepalive",
            daemon=True,
        ).start()

    def _keep_publisher_alive(self, generation: int) -> None:
        """Answer the broker's heartbeats on an idle publishing connection, so that it is not
        closed between two bursts of work (pika only does so while it is called)."""
        while not self._wait_for_shutdown(generation, time.monotonic() + 5.0):
            with self._publish_lock:
                if self._publisher is None:
                    continue
                try:
                    self._publisher.connection.process_data_events(time_limit=0)
                except _TRANSIENT_ERRORS as error:
                    self._drop_publisher(f"idle publishing connection lost ({error!r})")

    def _drop_publisher(self, what: str) -> None:
        """Forget a failed publishing connection (the caller holds the publish lock)."""
        _log.warning("RabbitMQ at %s: %s; reconnecting", self.address, what)
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None

    def queue_work(self, queue: QueueType, data: str) -> None:
        """Publish `data` persistently and wait for the broker's confirm; raise ProviderError if
        it cannot be confirmed within ``publish_timeout`` (the id may then still arrive once)."""
        name = self._queue_name(queue)
        if not isinstance(data, str):
            raise InvalidArgumentError(f"queue_work() needs a string id, got {type(data).__name__}")
        body = data.encode("utf-8")
        deadline = time.monotonic() + self._publish_timeout
        delay = _FIRST_BACKOFF
        while True:
            with self._publish_lock:
                try:
                    if self._publisher is None:
                        self._publisher = self._open_link()
                    self._publisher.channel.basic_publish("", name, body, _PERSISTENT, mandatory=True)
                    return
                except ProviderError as error:
                    failure: Exception = error
                    _log.warning("%s; retrying in %.1f s", error, delay)
                except _TRANSIENT_ERRORS as error:
                    failure = error
                    self._drop_publisher(f"publishing to {name} failed ({error!r})")
            if time.monotonic() + delay > deadline:
                raise ProviderError(
                    f"could not queue {data!r} on {name} at RabbitMQ {self.address} within "
                    f"{self._publish_timeout:g} s; last error: {failure}"
                ) from failure
            time.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)

    def dequeue_work(self, queue: QueueType) -> str | None:
        """Wait up to ``dequeue_timeout`` for an id; remember its delivery for ``complete_work``."""
        name = self._queue_name(queue)
        deadline = time.monotonic() + self._dequeue_timeout
        with self._state:
            if self._draining:
                return None
            generation = self._generation
        while True:
            consumer = self._thread_consumer(generation)
            if consumer is not None:
                with consumer.lock:
                    try:
                        return consumer.take(name, deadline)
                    except _TRANSIENT_ERRORS as error:
                        self._drop_consumer(
                            consumer, f"RabbitMQ at {self.address}: consuming from {name} failed ({error!r})"
                        )
            if self._wait_for_shutdown(generation, min(deadline, self._local.retry_at)):
                return None
            if time.monotonic() >= deadline:
                return None

    def complete_work(self, queue: QueueType, data: str) -> None:
        """Ack the delivery of `data` that this thread dequeued."""
        name = self._queue_name(queue)
        consumer = self._local.consumer
        if consumer is not None:
            with consumer.lock:
                try:
                    if consumer.ack(name, data):
                        return
                except _TRANSIENT_ERRORS as error:
                    self._drop_consumer(
                        consumer,
                        f"RabbitMQ at {self.address}: could not acknowledge {data!r} from {name} "
                        f"({error!r}); the broker will deliver it again",
                    )
                    return
        _log.warning(
            "RabbitMQ at %s: no open delivery of %r from %s on this thread's channel (its connection "
            "was closed, or another thread dequeued it); the broker will deliver it again",
            self.address,
            data,
            name,
        )

    def _thread_consumer(self, generation: int) -> _Consumer | None:
        """This thread's open consumer, connecting one unless still backing off or shut down."""
        state = self._local
        if state.consumer is not None and not state.consumer.stopping:
            return state.consumer
        if time.monotonic() < state.retry_at:
            return None
        try:
            consumer = _Consumer(
                self._parameters, self.address, list(self.queue_names.values()), self._prefetch
            )
        except ProviderError as error:
            self._back_off(str(error))
            return None
        with self._state:
            registered = self._generation == generation
            if registered:
                orphans = [other for other in self._consumers if not other.owner.is_alive()]
                self._consumers = [other for other in self._consumers if other.owner.is_alive()]
                self._consumers.append(consumer)
            else:
                orphans = [consumer]
        for orphan in orphans:
            orphan.close()
        if not registered:
            return None
        state.consumer = consumer
        state.backoff = _FIRST_BACKOFF
        return consumer

    def _drop_consumer(self, consumer: _Consumer, what: str) -> None:
        """Close this thread's failed consumer; its unacked deliveries are redelivered by the broker."""
        consumer.close()
        with self._state:
            if consumer in self._consumers:
                self._consumers.remove(consumer)
        self._local.consumer = None
        self._back_off(what)

    def _back_off(self, what: str) -> None:
        """Log `what` (which names the broker) and hold this thread's next connect back a little."""
        state = self._local
        _log.warning("%s; reconnecting in %.1f s", what, state.backoff)
        state.retry_at = time.monotonic() + state.backoff
        state.backoff = min(state.backoff * 2, _MAX_BACKOFF)

    def _wait_for_shutdown(self, generation: int, until: float) -> bool:
        """Wait until `until` (monotonic); True as soon as ``shutdown`` has been called."""
        with self._state:
            return self._state.wait_for(
                lambda: self._generation != generation or self._draining, max(0.0, until - time.monotonic())
            )

    def wake_dequeues(self) -> None:
        """Make dequeues return None until `start`, keeping connections open so that the
        deliveries in hand can still be acknowledged."""
        with self._state:
            self._draining = True
            consumers = list(self._consumers)
            self._state.notify_all()
        for consumer in consumers:
            consumer.draining = True
            consumer.wake()

    def shutdown(self) -> None:
        """Wake blocked dequeues and close every connection; ids not yet completed go back to
        their queue. ``start`` (or any later call) connects again."""
        with self._state:
            self._generation += 1
            self._state.notify_all()
            consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            consumer.stopping = True
            consumer.wake()
        for consumer in consumers:
            with consumer.lock:
                consumer.close()
        with self._publish_lock:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None
