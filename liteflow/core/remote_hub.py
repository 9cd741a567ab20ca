"""What a cluster-wide lifecycle event hub shares, whatever its server: a listener thread
that receives every node's events (reconnecting when the server drops it) and hands them
to the handlers, and a publisher that sends this node's.

A server's hub (``liteflow_redis``, ``liteflow_rabbitmq``) implements the four transport
methods; handlers run on the listener thread.
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Iterable

from .errors import SerializationError
from .lifecycle import LifecycleEvent
from .lifecycle_hub import LifecycleEventHub, decode_event, encode_event

__all__ = ["RemoteLifecycleEventHub"]

_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 2.0


class RemoteLifecycleEventHub(LifecycleEventHub):
    """Events go through a server, so every node's handlers see every node's events."""

    spans_nodes = True

    def __init__(self, address: str, logger: logging.Logger) -> None:
        super().__init__()
        #: The server, without credentials, as named in errors and log records.
        self.address = address
        self._logger = logger
        self._state = threading.Lock()
        self._publish_lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener_thread: threading.Thread | None = None

    # -- what a transport implements --------------------------------------------------------

    @abstractmethod
    def _listen(self) -> None:
        """Connect the listener and subscribe; return once events published from now on will
        be received. Raise `ProviderError` naming the server if it cannot."""

    @abstractmethod
    def _receive(self, timeout: float) -> Iterable[bytes]:
        """The events received within about `timeout` seconds (maybe none)."""

    @abstractmethod
    def _stop_listening(self) -> None:
        """Close the listener's connection quietly (it may be dead already)."""

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Publish one encoded event (called under a lock, from any thread); raise on failure."""

    @abstractmethod
    def _stop_sending(self) -> None:
        """Close the publishing connection quietly; the next `_send` opens one again."""

    # -- the shared part --------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe now, so a wrong address fails here and no event published after is missed."""
        with self._state:
            if self._listener_thread is not None and self._listener_thread.is_alive():
                return
            self._stopping = threading.Event()
            self._listen()
            self._listener_thread = threading.Thread(
                target=self._run, args=(self._stopping,), name="liteflow-lifecycle-listener", daemon=True
            )
            self._listener_thread.start()

    def close(self) -> None:
        with self._state:
            self._stopping.set()
            listener, self._listener_thread = self._listener_thread, None
        if listener is not None:
            listener.join(10)
        with self._publish_lock:
            self._stop_sending()

    def publish(self, event: LifecycleEvent) -> None:
        """Send `event`; a connection that failed is opened again once before giving up."""
        data = encode_event(event)
        with self._publish_lock:
            try:
                self._send(data)
                return
            except Exception as exc:
                self._logger.warning(
                    "lifecycle hub at %s: publishing failed (%r); reconnecting", self.address, exc
                )
                self._stop_sending()
            self._send(data)

    def _run(self, stopping: threading.Event) -> None:
        backoff = _FIRST_BACKOFF
        connected = True
        while not stopping.is_set():
            try:
                if not connected:
                    self._listen()
                    connected = True
                    backoff = _FIRST_BACKOFF
                    self._logger.warning("lifecycle hub at %s: listening again", self.address)
                for data in self._receive(0.5):
                    self._deliver_data(data)
            except Exception as exc:
                self._logger.warning(
                    "lifecycle hub at %s: listening failed (%r); reconnecting in %.1f s",
                    self.address,
                    exc,
                    backoff,
                )
                self._stop_listening()
                connected = False
                stopping.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
        self._stop_listening()

    def _deliver_data(self, data: bytes) -> None:
        try:
            event = decode_event(data)
        except SerializationError as exc:
            self._logger.warning(
                "lifecycle hub at %s: ignoring a message that is not an event: %s", self.address, exc
            )
            return
        self.deliver(event)
