"""Lifecycle events across a cluster through Redis pub/sub."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from redis.client import PubSub
from redis.exceptions import RedisError

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.remote_hub import RemoteLifecycleEventHub

from .redlock import _address

__all__ = ["RedisLifecycleEventHub"]

_log = logging.getLogger("liteflow.redis")


class RedisLifecycleEventHub(RemoteLifecycleEventHub):
    """Publishes every node's lifecycle events on a Redis channel, and hands each one it
    receives to this node's handlers: give one to every host
    (``configure_workflow_host(lifecycle_event_hub=RedisLifecycleEventHub(url))``).

    Pub/sub delivers at most once: a node that is disconnected (it reconnects by itself,
    logging a WARNING) misses what is published meanwhile.
    """

    def __init__(self, url: str, channel: str = "liteflow:lifecycle", socket_timeout: float = 5.0) -> None:
        if not isinstance(url, str):
            raise InvalidArgumentError(f"the Redis URL must be a string, got {type(url).__name__}")
        if not isinstance(channel, str) or not channel:
            raise InvalidArgumentError(f"channel must be a non-empty string, got {channel!r}")
        super().__init__(_address(url), _log)
        self.channel = channel
        try:
            # Two clients: closing a failed publishing connection must not close the listener's.
            self._client, self._subscriber = (
                redis.Redis.from_url(
                    url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
                )
                for _ in range(2)
            )
        except ValueError as error:
            raise InvalidArgumentError(f"malformed Redis URL {self.address!r}: {error}") from None
        self._pubsub: PubSub | None = None

    def _listen(self) -> None:
        pubsub: PubSub = self._subscriber.pubsub()  # type: ignore[no-untyped-call,unused-ignore]
        try:
            pubsub.subscribe(self.channel)
            confirmation = pubsub.get_message(timeout=5.0)
        except (RedisError, OSError) as error:
            pubsub.close()
            raise ProviderError(
                f"cannot subscribe to {self.channel} on Redis at {self.address}: {error}"
            ) from error
        if confirmation is None or confirmation.get("type") != "subscribe":
            pubsub.close()
            raise ProviderError(f"Redis at {self.address} did not confirm the subscription to {self.channel}")
        self._pubsub = pubsub

    def _receive(self, timeout: float) -> Iterable[bytes]:
        assert self._pubsub is not None
        message = self._pubsub.get_message(timeout=timeout)
        if message is None or message.get("type") != "message":
            return []
        return [message["data"]]

    def _stop_listening(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except (RedisError, OSError) as error:
                _log.debug("closing a Redis subscription failed: %r", error)

    def _send(self, data: bytes) -> None:
        try:
            self._client.publish(self.channel, data)
        except (RedisError, OSError) as error:
            raise ProviderError(
                f"cannot publish to {self.channel} on Redis at {self.address}: {error}"
            ) from error

    def _stop_sending(self) -> None:
        try:
            self._client.connection_pool.disconnect()
        except (RedisError, OSError) as error:
            _log.debug("closing the Redis connections failed: %r", error)
