"""Azure Storage queues as LiteFlow's work queues, shared by every node of a cluster."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from liteflow.core.errors import InvalidArgumentError
from liteflow.core.providers import QueueProvider, QueueType

from ._storage import START_OPTIONS, check_name, connect, error_code, failure, seconds, where
from .account import AccountLike

__all__ = ["AzureQueueProvider"]

_log = logging.getLogger("liteflow.azure")

_SUFFIXES = {QueueType.WORKFLOW: "workflows", QueueType.EVENT: "events"}
#: What Azure accepts as a message's visibility timeout (1 s to 7 days).
_VISIBILITY_RANGE = range(1, 7 * 24 * 3600 + 1)
#: The first pause after an empty receive; pauses double from here up to `max_poll_interval`.
_FIRST_POLL_INTERVAL = 0.05
#: Deleting with a receipt fails with these once the message became visible again (and may
#: have been received by another consumer, which got a new receipt).
_STALE_RECEIPT = {"MessageNotFound", "PopReceiptMismatch"}


class _Queue:
    """One Azure queue, the consumers waiting on it, and the receipts of its received messages."""

    def __init__(self, client: QueueClient, guard: threading.Lock) -> None:
        self.client = client
        self.name: str = client.queue_name
        #: The queue, account and endpoint, for messages.
        self.where = where(client, "queue", self.name)
        #: Notified when this provider queues an item, so a local consumer takes it at once.
        self.changed = threading.Condition(guard)
        self.generation = 0
        #: Shared by its consumers: an idle queue is polled ever less often, a busy one often.
        self.interval = _FIRST_POLL_INTERVAL
        #: Item -> (message id, pop receipt) of each received, not yet completed, message.
        self.receipts: dict[str, list[tuple[str, str]]] = {}


class AzureQueueProvider(QueueProvider):
    """A `QueueProvider` over two Azure Storage queues, ``{queue_prefix}-workflows`` and
    ``{queue_prefix}-events`` (created at `start` if missing), so several apps can share one
    account under different prefixes.

    A received message stays in its queue, invisible for `visibility_timeout`, until
    `complete_work` deletes it: if the node dies first, the message reappears and another node
    takes it. A step running longer than the visibility timeout may therefore be picked up
    again by another node (which then finds the workflow locked and skips it).

    Azure queues have no blocking receive, so `dequeue_work` polls: after an empty receive it
    waits before the next one, doubling the pause up to `max_poll_interval` while the queue
    stays empty, and returns None after `dequeue_wait`. An idle consumer thus sends about one
    request per `max_poll_interval`, and an item queued by this same provider is taken at once.
    Items are sent base64-encoded, so any text is safe.

    `connection_string` may also be an account object as liteflow.core 0.3.1 took
    (`StorageAccount`, or anything with ``account_name``, ``account_key`` and ``is_emulated``).
    `credential` (an account key, SAS token or ``azure.identity`` credential) overrides the
    connection string's. `client_options` go to the SDK clients (``retry_policy``,
    ``connection_timeout``, ``transport``...), overriding LiteFlow's short timeouts and retries.
    The SDK logs every request at INFO on the ``azure`` logger; raise that logger's level to
    WARNING if that is too chatty.
    """

    is_dequeue_blocking = True

    def __init__(
        self,
        connection_string: str | AccountLike,
        credential: Any = None,
        queue_prefix: str = "liteflow",
        visibility_timeout: timedelta | float = 30,
        dequeue_wait: timedelta | float = 2.0,
        max_poll_interval: timedelta | float = 1.0,
        **client_options: Any,
    ) -> None:
        if not isinstance(queue_prefix, str):
            raise InvalidArgumentError(f"queue_prefix must be a str, got {queue_prefix!r}")
        names = {
            queue: check_name(f"queue name (from queue_prefix {queue_prefix!r})", f"{queue_prefix}-{suffix}")
            for queue, suffix in _SUFFIXES.items()
        }
        visibility = seconds(visibility_timeout, "visibility_timeout")
        if not visibility.is_integer() or int(visibility) not in _VISIBILITY_RANGE:
            raise InvalidArgumentError(
                f"visibility_timeout must be a whole number of seconds from 1 s to 7 days, "
                f"got {visibility_timeout!r}"
            )
        self._visibility = int(visibility)
        self._dequeue_wait = seconds(dequeue_wait, "dequeue_wait")
        self._max_interval = seconds(max_poll_interval, "max_poll_interval")
        self._service = connect(QueueServiceClient, connection_string, credential, client_options)
        self._guard = threading.Lock()
        self._queues = {
            queue: _Queue(
                self._service.get_queue_client(
                    name,
                    message_encode_policy=TextBase64EncodePolicy(),
                    message_decode_policy=TextBase64DecodePolicy(),
                ),
                self._guard,
            )
            for queue, name in names.items()
        }
        self._stopping = threading.Event()

    @property
    def queue_names(self) -> dict[QueueType, str]:
        """The Azure queue behind each LiteFlow queue."""
        return {queue: target.name for queue, target in self._queues.items()}

    def start(self) -> None:
        """Create the queues if missing; an unreachable account fails here, within seconds."""
        for target in self._queues.values():
            try:
                target.client.create_queue(**START_OPTIONS)
            except ResourceExistsError:
                pass
            except AzureError as error:
                raise failure("creating the queue", target.where, error) from error
        self._stopping.clear()

    def shutdown(self) -> None:
        """Wake waiting consumers; there is no connection to release (each call is a request)."""
        self.wake_dequeues()

    def wake_dequeues(self) -> None:
        """Wake waiting consumers; completing items already received still works."""
        self._stopping.set()
        for target in self._queues.values():
            with target.changed:
                target.changed.notify_all()

    def queue_work(self, queue: QueueType, data: str) -> None:
        target = self._queues[queue]
        try:
            target.client.send_message(data)
        except AzureError as error:
            raise failure("sending a message", target.where, error) from error
        with target.changed:
            target.generation += 1
            target.interval = _FIRST_POLL_INTERVAL
            target.changed.notify()

    def dequeue_work(self, queue: QueueType) -> str | None:
        target = self._queues[queue]
        deadline = time.monotonic() + self._dequeue_wait
        while not self._stopping.is_set():
            with target.changed:
                seen = target.generation
            item = self._receive(target)
            if item is not None:
                return item
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with target.changed:
                pause = min(target.interval, remaining)
                target.interval = min(target.interval * 2, self._max_interval)
                if target.generation == seen and not self._stopping.is_set():
                    target.changed.wait(pause)
        return None

    def complete_work(self, queue: QueueType, data: str) -> None:
        target = self._queues[queue]
        with self._guard:
            receipts = target.receipts.get(data)
            if not receipts:
                return
            message_id, pop_receipt = receipts.pop(0)
            if not receipts:
                del target.receipts[data]
        try:
            target.client.delete_message(message_id, pop_receipt)
        except HttpResponseError as error:
            if error_code(error) not in _STALE_RECEIPT:
                raise failure("deleting a message", target.where, error) from error
            _log.warning(
                "%r was completed after its visibility timeout (%d s) on %s; it may be delivered again",
                data,
                self._visibility,
                target.where,
            )
        except AzureError as error:
            raise failure("deleting a message", target.where, error) from error

    def _receive(self, target: _Queue) -> str | None:
        try:
            message = target.client.receive_message(visibility_timeout=self._visibility)
        except AzureError as error:
            raise failure("receiving a message", target.where, error) from error
        if message is None:
            return None
        item: str = message.content
        with self._guard:
            target.interval = _FIRST_POLL_INTERVAL
            target.receipts.setdefault(item, []).append((message.id, message.pop_receipt or ""))
        return item
