"""Lifecycle events across a cluster through a RabbitMQ fanout exchange."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.spec import Basic, BasicProperties

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.remote_hub import RemoteLifecycleEventHub

from .provider import _TRANSIENT_ERRORS, RabbitMQQueueProvider

__all__ = ["RabbitMQLifecycleEventHub"]

_log = logging.getLogger("liteflow.rabbitmq")
_PROPERTIES = BasicProperties(content_type="application/json")


class _Connection:
    """One connection and channel with the exchange declared; used by one thread at a time."""

    def __init__(self, parameters: pika.URLParameters, address: str, exchange: str) -> None:
        try:
            self.connection = BlockingConnection(parameters)
            self.channel: BlockingChannel = self.connection.channel()
            self.channel.exchange_declare(exchange, exchange_type="fanout")
        except _TRANSIENT_ERRORS as error:
            self.close()
            raise ProviderError(
                f"cannot open the exchange {exchange} on RabbitMQ at {address}: {error!r}"
            ) from error

    def close(self) -> None:
        connection = getattr(self, "connection", None)
        try:
            if connection is not None and connection.is_open:
                connection.close()
        except _TRANSIENT_ERRORS as error:
            _log.debug("closing a RabbitMQ connection failed: %r", error)


class RabbitMQLifecycleEventHub(RemoteLifecycleEventHub):
    """Publishes every node's lifecycle events to a fanout exchange; each hub reads them from
    a queue of its own (exclusive, deleted with its connection) bound to it: give one to every
    host (``configure_workflow_host(lifecycle_event_hub=RabbitMQLifecycleEventHub(url))``).

    A node that is disconnected (it reconnects by itself, logging a WARNING) misses what is
    published meanwhile: its queue goes with its connection.
    """

    def __init__(self, url: str, exchange: str = "liteflow.lifecycle") -> None:
        if not isinstance(exchange, str) or not exchange:
            raise InvalidArgumentError(f"exchange must be a non-empty string, got {exchange!r}")
        parameters, address = RabbitMQQueueProvider._parse_url(url)
        super().__init__(address, _log)
        self.exchange = exchange
        self._parameters = parameters
        self._consumer: _Connection | None = None
        self._publisher: _Connection | None = None
        self._received: list[bytes] = []

    def _listen(self) -> None:
        listener = _Connection(self._parameters, self.address, self.exchange)
        try:
            declared = listener.channel.queue_declare("", exclusive=True, auto_delete=True)
            queue = declared.method.queue
            listener.channel.queue_bind(queue, self.exchange)
            listener.channel.basic_consume(queue, self._on_message, auto_ack=True)
        except _TRANSIENT_ERRORS as error:
            listener.close()
            raise ProviderError(
                f"cannot bind a queue to {self.exchange} on RabbitMQ at {self.address}: {error!r}"
            ) from error
        self._consumer = listener

    def _on_message(
        self, _channel: BlockingChannel, _method: Basic.Deliver, _properties: BasicProperties, body: bytes
    ) -> None:
        self._received.append(body)

    def _receive(self, timeout: float) -> Iterable[bytes]:
        assert self._consumer is not None
        self._consumer.connection.process_data_events(time_limit=timeout)
        received, self._received = self._received, []
        return received

    def _stop_listening(self) -> None:
        listener, self._consumer = self._consumer, None
        self._received = []
        if listener is not None:
            listener.close()

    def _send(self, data: bytes) -> None:
        if self._publisher is None:
            self._publisher = _Connection(self._parameters, self.address, self.exchange)
        try:
            self._publisher.channel.basic_publish(self.exchange, "", data, _PROPERTIES)
        except _TRANSIENT_ERRORS as error:
            raise ProviderError(
                f"cannot publish to {self.exchange} on RabbitMQ at {self.address}: {error!r}"
            ) from error

    def _stop_sending(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.close()
