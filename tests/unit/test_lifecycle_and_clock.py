"""Pure logic of lifecycle events on the wire and of the FakeClock."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from liteflow.core import InvalidArgumentError, SerializationError
from liteflow.core.clock import SystemClock
from liteflow.core.lifecycle_hub import decode_event, encode_event
from liteflow.core.testing import FakeClock
from liteflow.core.testing.lifecycle import sample_events


@pytest.mark.parametrize("event", sample_events("w-1"), ids=lambda event: type(event).__name__)
def test_every_lifecycle_event_survives_encoding(event: object) -> None:
    assert decode_event(encode_event(event)) == event  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "must be JSON"),
        (b"[]", "JSON object"),
        (b'{"type": "Exploded"}', "unknown lifecycle event type"),
        (b'{"type": "WorkflowStarted", "workflow_instance_id": "w"}', "needs the fields"),
    ],
)
def test_a_message_that_is_not_an_event_is_refused_by_name(data: bytes, message: str) -> None:
    with pytest.raises(SerializationError, match=message):
        decode_event(data)


def test_a_field_of_the_wrong_type_is_refused() -> None:
    document = json.loads(encode_event(sample_events("w-1")[0]))
    document["version"] = "3"
    with pytest.raises(SerializationError, match="version holds str"):
        decode_event(json.dumps(document))


def test_a_fake_clock_stands_still_until_advanced() -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    clock = FakeClock(start)
    assert clock.now() == start
    assert clock.advance(timedelta(hours=1)) == start + timedelta(hours=1)
    assert clock.now() == start + timedelta(hours=1)


def test_a_naive_start_is_taken_as_utc() -> None:
    assert FakeClock(datetime(2030, 1, 1)).now() == datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("duration", [timedelta(seconds=-1), 5])
def test_a_fake_clock_refuses_to_go_back_or_a_number(duration: object) -> None:
    with pytest.raises(InvalidArgumentError):
        FakeClock().advance(duration)  # type: ignore[arg-type]


def test_a_waiter_wakes_when_the_clock_reaches_its_time_and_not_before() -> None:
    clock = FakeClock()
    due = clock.now() + timedelta(hours=1)
    condition = threading.Condition()
    woke: list[datetime] = []

    def waiter() -> None:
        with condition:
            while clock.now() < due:
                clock.wait(condition, due)
            woke.append(clock.now())

    thread = threading.Thread(target=waiter)
    thread.start()
    clock.advance(timedelta(minutes=59))
    thread.join(0.1)
    assert thread.is_alive() and woke == []
    clock.advance(timedelta(minutes=1))
    thread.join(1)
    assert woke == [due]


def test_the_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is timezone.utc
