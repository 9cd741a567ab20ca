"""The host's side of lifecycle events: a bounded buffer and the thread that hands them on.

Workers only append to the buffer (never blocking, never calling a handler), so a slow
handler cannot stall a workflow; when the buffer is full, events are dropped and counted,
and one WARNING names the count once the dispatcher has caught up. While events flow, the
dispatcher hands them on every `GATHER_SECONDS` rather than being woken for each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from .lifecycle import LifecycleEvent, StepEvent
from .lifecycle_hub import HandlerList, LifecycleEventHandler, LifecycleEventHub, call_handler

__all__ = ["GATHER_SECONDS", "LifecycleDispatcher"]

#: After handing events on, the dispatcher lets the next ones gather this long before it looks
#: again: while events flow it then wakes once per interval, not once per event (a wake-up
#: costs the worker that emitted a thread switch, and on SQLite, where every statement lets
#: the interpreter lock go, a tenth of a workflow's CPU). A lone event is handed on at once.
GATHER_SECONDS = 0.005


class LifecycleDispatcher:
    """Passes each emitted event to this host's own handlers, then to the hub."""

    def __init__(self, hub: LifecycleEventHub, logger: logging.Logger, capacity: int) -> None:
        self.hub = hub
        self._logger = logger
        self._capacity = capacity
        self._buffer: deque[LifecycleEvent] = deque()
        self._condition = threading.Condition()
        self._dropped = 0
        #: Whether the dispatcher sleeps on the condition (an emit must wake it).
        self._sleeping = False
        self._running = False
        self._thread: threading.Thread | None = None
        self._node_handlers = HandlerList()
        #: The node handlers among them that take step events (StepStarted, ..., WorkflowError).
        self._node_step_handlers = HandlerList()

    @property
    def wanted(self) -> bool:
        """Whether anyone may listen: the engine builds no event when nobody does."""
        return self.hub.wants_events or bool(self._node_handlers.handlers)

    @property
    def wants_steps(self) -> bool:
        """Whether anyone may listen to step events, by far the most numerous."""
        return self.hub.wants_events or bool(self._node_step_handlers.handlers)

    def subscribe_node(
        self, handler: LifecycleEventHandler, kinds: tuple[type[LifecycleEvent], ...] | None = None
    ) -> Callable[[], None]:
        """Call `handler` for this host's events only (not the rest of the cluster's), of
        `kinds` only when given."""
        removals = [self._node_handlers.add(handler)]
        if kinds is None or any(issubclass(kind, StepEvent) or issubclass(StepEvent, kind) for kind in kinds):
            removals.append(self._node_step_handlers.add(handler))

        def unsubscribe() -> None:
            for remove in removals:
                remove()

        return unsubscribe

    def emit(self, events: Iterable[LifecycleEvent]) -> None:
        """Queue events for the dispatcher thread; drop (and count) what does not fit.

        Appending to the buffer is atomic by itself: a worker takes the lock only to wake a
        dispatcher that sleeps, or to count a drop, so workers and the dispatcher do not
        meet on it at every event (each meeting costs both a thread switch).
        """
        buffer = self._buffer
        dropped = 0
        for event in events:
            if len(buffer) < self._capacity:
                buffer.append(event)
            else:
                dropped += 1
        # Appended before the flag is read: a dispatcher that goes to sleep later sees them.
        if dropped or self._sleeping:
            with self._condition:
                self._dropped += dropped
                self._condition.notify()

    def start(self) -> None:
        self.hub.start()
        with self._condition:
            self._running = True
        self._thread = threading.Thread(target=self._run, name="liteflow-lifecycle", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Hand on what is buffered (for up to `timeout` seconds), then close the hub."""
        with self._condition:
            self._running = False
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._logger.warning(
                    "stop(): a lifecycle event handler is still running after %.1f s", timeout
                )
            self._thread = None
        self.hub.close()

    def _next_batch(self) -> list[LifecycleEvent]:
        """Every buffered event, waiting for one; empty once stopped and drained."""
        buffer = self._buffer
        with self._condition:
            while not buffer:
                self._report_dropped()
                if not self._running:
                    return []
                self._sleeping = True  # set before the last look, so an emit sees it
                if not buffer:
                    self._condition.wait()
                self._sleeping = False
        # Only this thread takes events out, so as many as it counted are there.
        return [buffer.popleft() for _ in range(len(buffer))]

    def _report_dropped(self) -> None:
        if self._dropped:
            self._logger.warning(
                "dropped %d lifecycle event(s): the handlers could not keep up (buffer of %d full)",
                self._dropped,
                self._capacity,
            )
            self._dropped = 0

    def _run(self) -> None:
        while batch := self._next_batch():
            for event in batch:
                for handler in self._node_handlers.handlers:
                    call_handler(handler, event, self._logger)
                try:
                    self.hub.publish(event)
                except Exception:
                    self._logger.exception("could not publish %s to the lifecycle hub", type(event).__name__)
            if self._running:
                time.sleep(GATHER_SECONDS)
