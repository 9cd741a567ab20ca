"""The host's lifecycle dispatcher (`liteflow.core.lifecycle_dispatch`): when it hands events on."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from liteflow.core.lifecycle import LifecycleEvent, WorkflowStarted
from liteflow.core.lifecycle_dispatch import GATHER_SECONDS, LifecycleDispatcher
from liteflow.core.lifecycle_hub import InProcessLifecycleEventHub
from tests.support import wait_until

__all__: list[str] = []


def _event(number: int) -> WorkflowStarted:
    return WorkflowStarted(f"wf-{number}", "Flow", 1, None, datetime.now(timezone.utc))


class _Recording:
    """A dispatcher with one node handler that notes when each event arrived, counting the
    batches the dispatcher took."""

    def __init__(self) -> None:
        self.dispatcher = LifecycleDispatcher(InProcessLifecycleEventHub(), logging.getLogger("test"), 10_000)
        self.arrivals: list[tuple[float, LifecycleEvent]] = []
        self.batches = 0
        take = self.dispatcher._next_batch

        def counted() -> list[LifecycleEvent]:
            batch = take()
            self.batches += bool(batch)
            return batch

        self.dispatcher._next_batch = counted  # type: ignore[method-assign]
        self.dispatcher.subscribe_node(lambda event: self.arrivals.append((time.monotonic(), event)))
        self.dispatcher.start()

    def stop(self) -> None:
        self.dispatcher.stop(5)


def test_a_lone_event_is_handed_on_at_once() -> None:
    recording = _Recording()
    try:
        time.sleep(3 * GATHER_SECONDS)  # the dispatcher asleep, waiting for an event
        emitted = time.monotonic()
        recording.dispatcher.emit([_event(1)])
        wait_until(lambda: recording.arrivals, what="the event to reach the handler")
        assert recording.arrivals[0][0] - emitted < 0.5
    finally:
        recording.stop()


def test_a_stream_of_events_is_handed_on_in_batches_in_order() -> None:
    recording = _Recording()
    try:
        started = time.monotonic()
        for number in range(300):
            recording.dispatcher.emit([_event(number)])
            if number % 10 == 0:
                time.sleep(0.0002)
        emitted_for = time.monotonic() - started
        wait_until(lambda: len(recording.arrivals) == 300, what="every event to reach the handler")
    finally:
        recording.stop()
    assert [event.workflow_instance_id for _, event in recording.arrivals] == [f"wf-{n}" for n in range(300)]
    # One wake-up per gathering interval (and the first at once), not one per event.
    assert recording.batches <= emitted_for / GATHER_SECONDS + 3, (recording.batches, emitted_for)


def test_stop_hands_on_what_is_buffered_without_waiting_a_gathering_interval_per_batch() -> None:
    recording = _Recording()
    for number in range(50):
        recording.dispatcher.emit([_event(number)])
    stopping = time.monotonic()
    recording.stop()
    assert len(recording.arrivals) == 50
    assert time.monotonic() - stopping < 1.0
