"""How lifecycle events travel from the hosts that emit them to the handlers that want them.

A `LifecycleEventHub` is to lifecycle events what a queue provider is to work: the
in-process default reaches the handlers of hosts sharing it in one process; a cluster-wide
hub (``liteflow_redis.RedisLifecycleEventHub``, ``liteflow_rabbitmq.RabbitMQLifecycleEventHub``)
carries every node's events to every node's handlers, encoded with `encode_event`.
"""

from __future__ import annotations

import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from typing import Any

from . import lifecycle
from .clock import to_utc
from .errors import InvalidArgumentError, SerializationError
from .lifecycle import LifecycleEvent

__all__ = [
    "HandlerList",
    "InProcessLifecycleEventHub",
    "LifecycleEventHandler",
    "LifecycleEventHub",
    "decode_event",
    "encode_event",
    "call_handler",
]

LifecycleEventHandler = Callable[[LifecycleEvent], object]

_logger = logging.getLogger("liteflow.lifecycle")

_ABSTRACT = (LifecycleEvent, lifecycle.StepEvent)
_EVENT_TYPES: dict[str, type[LifecycleEvent]] = {
    name: kind
    for name in lifecycle.__all__
    if isinstance(kind := getattr(lifecycle, name), type) and kind not in _ABSTRACT
}


#: The stored type of each field annotation the events use (times are checked on their own).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "str | None": (str, type(None)),
    "int | None": (int, type(None)),
}


class HandlerList:
    """Handlers swapped whole on change, so that delivering takes no lock."""

    def __init__(self, on_change: Callable[[bool], None] = lambda any_left: None) -> None:
        self.handlers: tuple[LifecycleEventHandler, ...] = ()
        self._on_change = on_change
        self._lock = threading.Lock()

    def add(self, handler: LifecycleEventHandler) -> Callable[[], None]:
        """Add `handler`; returns the function that removes it."""
        with self._lock:
            self.handlers = (*self.handlers, handler)
            self._on_change(True)

        def remove() -> None:
            with self._lock:
                handlers = list(self.handlers)
                if handler in handlers:
                    handlers.remove(handler)
                self.handlers = tuple(handlers)
                self._on_change(bool(handlers))

        return remove


class LifecycleEventHub(ABC):
    """Delivers each published event to every subscribed handler (of every node, when the
    hub spans a cluster). A handler that raises is logged; the others still run."""

    #: Whether a host should publish when no handler is subscribed here: a cluster-wide hub
    #: says yes, since another node may be listening.
    spans_nodes = True

    def __init__(self) -> None:
        self._handlers = HandlerList(self._handlers_changed)
        #: Whether a host should build and publish events at all (read once per pass).
        self.wants_events = self.spans_nodes

    def _handlers_changed(self, any_left: bool) -> None:
        self.wants_events = self.spans_nodes or any_left

    def subscribe(self, handler: LifecycleEventHandler) -> Callable[[], None]:
        """Call `handler(event)` for every event from now on; returns the function that stops it."""
        if not callable(handler):
            raise InvalidArgumentError(f"a lifecycle event handler must be callable, got {handler!r}")
        return self._handlers.add(handler)

    def start(self) -> None:
        """Connect (a cluster-wide hub); called by the host's `start`, again after `close`."""

    def close(self) -> None:
        """Release connections; called by the host's `stop`. Subscriptions are kept."""

    @abstractmethod
    def publish(self, event: LifecycleEvent) -> None:
        """Hand `event` on; called on the host's dispatcher thread, never on a workflow worker."""

    def deliver(self, event: LifecycleEvent) -> None:
        """Call every handler with `event` (on the calling thread)."""
        for handler in self._handlers.handlers:
            call_handler(handler, event, _logger)


def call_handler(handler: LifecycleEventHandler, event: LifecycleEvent, logger: logging.Logger) -> None:
    """A failing handler is logged with its traceback, and never stops anything else."""
    try:
        handler(event)
    except Exception:
        logger.exception("lifecycle event handler %r failed on %s", handler, type(event).__name__)


class InProcessLifecycleEventHub(LifecycleEventHub):
    """The default: handlers in this process see the events of the hosts sharing this hub."""

    spans_nodes = False

    def publish(self, event: LifecycleEvent) -> None:
        self.deliver(event)


def encode_event(event: LifecycleEvent) -> bytes:
    """JSON bytes naming the event's type and holding its fields (times as ISO 8601)."""
    document: dict[str, Any] = {"type": type(event).__name__}
    for item in fields(event):
        value = getattr(event, item.name)
        document[item.name] = value.isoformat() if isinstance(value, datetime) else value
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def decode_event(data: bytes | str) -> LifecycleEvent:
    """The event `encode_event` wrote; `SerializationError` naming what is wrong otherwise."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationError(f"a lifecycle event must be JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SerializationError("a lifecycle event must be a JSON object")
    kind = _EVENT_TYPES.get(document.pop("type", None))
    if kind is None:
        raise SerializationError(f"unknown lifecycle event type in {data!r:.200}")
    names = {item.name for item in fields(kind)}
    if set(document) != names:
        raise SerializationError(f"{kind.__name__} needs the fields {sorted(names)}, got {sorted(document)}")
    try:
        document["event_time"] = to_utc(datetime.fromisoformat(document["event_time"]))
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"{kind.__name__}.event_time is not an ISO 8601 time: {exc}") from None
    for item in fields(kind):
        allowed = _FIELD_TYPES.get(str(item.type))
        value = document[item.name]
        if allowed is not None and type(value) not in allowed:
            raise SerializationError(
                f"{kind.__name__}.{item.name} holds {type(value).__name__}, expected {item.type}"
            )
    return kind(**document)
