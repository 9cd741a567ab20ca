"""The poller queues due work once across nodes (issue 18): a poll claims what it queues, other
nodes' polls skip it until the claim ends, and a claim of a node that died ends by itself.

Each node here is a poller over its own provider object on one SQLite file, with its own
queue and clock, polled by hand: when each poll happens is exact.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from liteflow.core import (
    Event,
    HostOptions,
    LocalLockProvider,
    PersistenceProvider,
    QueueType,
    SingleNodeQueueProvider,
    WorkflowInstance,
)
from liteflow.core.clock import utcnow
from liteflow.core.scheduler import WakeUpScheduler
from liteflow.core.sqlite import SqlitePersistenceProvider
from liteflow.core.testing import FakeClock
from liteflow.core.worker_services import ControlRequests, Services
from liteflow.core.workers import CLAIM_POLLS, RunnablePoller

__all__: list[str] = []

INTERVAL = timedelta(seconds=10)
CLAIM = INTERVAL * CLAIM_POLLS
START = utcnow()


class RecordingQueue(SingleNodeQueueProvider):
    """Keeps what was queued, by queue, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: dict[QueueType, list[str]] = {QueueType.WORKFLOW: [], QueueType.EVENT: []}

    def queue_work(self, queue: QueueType, data: str) -> None:
        self.queued[QueueType(queue)].append(data)


class Node:
    """One node's poller, queue and clock over its own connection to the shared file."""

    def __init__(self, store: PersistenceProvider) -> None:
        self.clock = FakeClock(START)
        self.queue = RecordingQueue()
        options = HostOptions(poll_interval=INTERVAL, clock=self.clock)
        scheduler = WakeUpScheduler(self.queue, options.logger, self.clock)
        services = Services(
            store, self.queue, LocalLockProvider(), scheduler, options, threading.Event(), ControlRequests()
        )
        self._poller = RunnablePoller(services)

    def poll_at(self, when: datetime, kind: QueueType = QueueType.WORKFLOW) -> list[str]:
        """Poll with the clock at `when`; the ids this poll queued."""
        self.clock.advance(when - self.clock.now())
        self._poller.poll_once()
        queued, self.queue.queued[kind] = self.queue.queued[kind], []
        return queued


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PersistenceProvider]:
    provider = SqlitePersistenceProvider(tmp_path / "liteflow.db")
    try:
        yield provider
    finally:
        provider.close()


@pytest.fixture
def nodes(tmp_path: Path, store: PersistenceProvider) -> Iterator[list[Node]]:
    """Three nodes, each on its own provider object of the store's file."""
    with ExitStack() as stack:
        providers = [SqlitePersistenceProvider(tmp_path / "liteflow.db") for _ in range(3)]
        for provider in providers:
            stack.callback(provider.close)
        yield [Node(provider) for provider in providers]


def due_instance(store: PersistenceProvider, when: datetime = START) -> str:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Anything"
    instance.create_time = when
    instance.next_execution = when
    instance.data = {}
    return store.create_workflow(instance)


def test_an_instance_queued_by_one_node_is_not_queued_by_another_until_the_claim_ends(
    store: PersistenceProvider, nodes: list[Node]
) -> None:
    first, second, third = nodes
    workflow_id = due_instance(store)
    assert first.poll_at(START) == [workflow_id]
    assert second.poll_at(START + INTERVAL) == []
    assert third.poll_at(START + CLAIM - timedelta(milliseconds=1)) == []
    assert first.poll_at(START + CLAIM - timedelta(milliseconds=1)) == []  # nor by the same node


def test_the_claim_of_a_node_that_died_ends_and_another_node_queues_the_instance(
    store: PersistenceProvider, nodes: list[Node]
) -> None:
    dead, survivor, _ = nodes
    workflow_id = due_instance(store)
    assert dead.poll_at(START) == [workflow_id]  # and it dies with the id in its queue
    assert survivor.poll_at(START + CLAIM) == [workflow_id]
    assert dead.poll_at(START + CLAIM + INTERVAL) == []  # the survivor's claim holds now


def test_work_found_due_later_is_queued_by_the_first_node_to_poll_after_it_is_due(
    store: PersistenceProvider, nodes: list[Node]
) -> None:
    first, second, third = nodes
    early = due_instance(store)
    late = due_instance(store, START + INTERVAL / 2)
    assert first.poll_at(START) == [early]
    assert second.poll_at(START + INTERVAL) == [late]
    assert third.poll_at(START + INTERVAL) == []


def test_an_event_queued_by_one_node_is_not_queued_by_another_until_the_claim_ends(
    store: PersistenceProvider, nodes: list[Node]
) -> None:
    first, second, _ = nodes
    event = Event()
    event.event_name, event.event_key, event.event_data, event.event_time = "go", "k", None, START
    event_id = store.create_event(event)
    assert first.poll_at(START, QueueType.EVENT) == [event_id]
    assert second.poll_at(START + CLAIM - timedelta(milliseconds=1), QueueType.EVENT) == []
    assert second.poll_at(START + CLAIM, QueueType.EVENT) == [event_id]
