"""RabbitMQQueueProvider against a real broker: the queue conformance suite, then the
behaviours only a networked queue has (redelivery, durability, reconnects, per-thread channels)."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.providers import QueueProvider, QueueType
from liteflow.core.testing import QueueProviderConformance
from liteflow_rabbitmq import RabbitMQQueueProvider
from tests.servers import (
    delete_rabbitmq_queues,
    rabbitmq_channel,
    require_rabbitmq,
    require_rabbitmq_control,
    restart_rabbitmq,
    stopped_rabbitmq,
)
from tests.support import wait_until


@pytest.fixture(scope="module")
def rabbitmq_url() -> str:
    return require_rabbitmq()


@pytest.fixture(scope="module")
def broker_control() -> str:
    """The broker's URL, once rabbitmqctl on this machine is known to control it."""
    return require_rabbitmq_control()


@pytest.mark.integration
class TestRabbitMQQueue(QueueProviderConformance):
    max_empty_dequeue_seconds = 2.0

    @pytest.fixture(autouse=True)
    def _broker(self, rabbitmq_url: str) -> None:
        self.url = rabbitmq_url

    def create_provider(self) -> QueueProvider:
        return RabbitMQQueueProvider(
            self.url, queue_prefix=f"liteflow-test-{uuid.uuid4().hex}", dequeue_timeout=0.3
        )

    def dispose_provider(self, provider: QueueProvider) -> None:
        provider.shutdown()
        assert isinstance(provider, RabbitMQQueueProvider)
        delete_rabbitmq_queues(self.url, provider.queue_names.values())


Factory = Callable[..., RabbitMQQueueProvider]


@pytest.fixture
def make_provider(rabbitmq_url: str) -> Iterator[Factory]:
    """Started providers sharing one fresh pair of queues, deleted afterwards."""
    prefix = f"liteflow-test-{uuid.uuid4().hex}"
    made: list[RabbitMQQueueProvider] = []

    def make(**options: Any) -> RabbitMQQueueProvider:
        options.setdefault("dequeue_timeout", 0.3)
        provider = RabbitMQQueueProvider(rabbitmq_url, queue_prefix=prefix, **options)
        provider.start()
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.shutdown()
    if made:
        delete_rabbitmq_queues(rabbitmq_url, made[0].queue_names.values())


def receive(provider: RabbitMQQueueProvider, queue: QueueType, timeout: float = 10.0) -> str:
    """Poll until one item arrives (a reconnect may make the first dequeues empty)."""
    item = wait_until(lambda: provider.dequeue_work(queue), timeout=timeout, interval=0, what="an item")
    assert item is not None
    return item


@pytest.mark.integration
def test_uncompleted_item_returns_when_its_consumer_dies(make_provider: Factory) -> None:
    survivor, doomed = make_provider(), make_provider()
    survivor.queue_work(QueueType.WORKFLOW, "workflow-1")
    assert receive(doomed, QueueType.WORKFLOW) == "workflow-1"
    assert survivor.dequeue_work(QueueType.WORKFLOW) is None

    doomed.shutdown()

    assert receive(survivor, QueueType.WORKFLOW) == "workflow-1"
    survivor.complete_work(QueueType.WORKFLOW, "workflow-1")


@pytest.mark.integration
def test_queues_are_durable_and_messages_persistent(make_provider: Factory, rabbitmq_url: str) -> None:
    provider = make_provider()
    provider.queue_work(QueueType.EVENT, "event-1")
    with rabbitmq_channel(rabbitmq_url) as channel:
        for name in provider.queue_names.values():
            channel.queue_declare(name, durable=True)  # the broker refuses this on a transient queue
        method, properties, body = channel.basic_get(provider.queue_names[QueueType.EVENT], auto_ack=True)
    assert method is not None
    assert properties is not None
    assert body == b"event-1"
    assert properties.delivery_mode == pika.DeliveryMode.Persistent.value


@pytest.mark.integration
def test_a_stopped_provider_can_start_again(make_provider: Factory) -> None:
    provider = make_provider()
    provider.shutdown()
    provider.start()
    provider.queue_work(QueueType.WORKFLOW, "workflow-1")
    assert receive(provider, QueueType.WORKFLOW) == "workflow-1"
    provider.complete_work(QueueType.WORKFLOW, "workflow-1")


@pytest.mark.integration
def test_a_queue_deleted_under_a_running_provider_is_declared_again(
    make_provider: Factory, rabbitmq_url: str
) -> None:
    provider = make_provider()
    assert provider.dequeue_work(QueueType.WORKFLOW) is None
    delete_rabbitmq_queues(rabbitmq_url, [provider.queue_names[QueueType.WORKFLOW]])

    provider.queue_work(QueueType.WORKFLOW, "workflow-1")

    assert receive(provider, QueueType.WORKFLOW) == "workflow-1"
    provider.complete_work(QueueType.WORKFLOW, "workflow-1")


@pytest.mark.integration
def test_threads_dequeue_and_complete_on_their_own_channels(
    make_provider: Factory, rabbitmq_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    provider = make_provider()
    sent = {f"workflow-{n}" for n in range(40)}
    for item in sent:
        provider.queue_work(QueueType.WORKFLOW, item)
    received: list[str] = []
    errors: list[BaseException] = []
    guard = threading.Lock()
    all_consuming = threading.Barrier(5, timeout=20)

    def work() -> None:
        try:
            while True:
                item = provider.dequeue_work(QueueType.WORKFLOW)
                if item is not None:
                    provider.complete_work(QueueType.WORKFLOW, item)
                with guard:
                    if item is not None:
                        received.append(item)
                    if len(received) >= len(sent):
                        break
        except BaseException as error:
            errors.append(error)
        all_consuming.wait()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    all_consuming.wait()
    try:
        with rabbitmq_channel(rabbitmq_url) as channel:
            declared = channel.queue_declare(provider.queue_names[QueueType.WORKFLOW], passive=True)
        consumers = declared.method.consumer_count
    finally:
        for thread in threads:
            thread.join()
    assert errors == []
    assert sorted(received) == sorted(sent)
    assert consumers == 4
    assert [record.getMessage() for record in caplog.records] == []


@pytest.mark.integration
def test_reconnects_after_a_broker_restart(
    make_provider: Factory, broker_control: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="liteflow.rabbitmq")
    provider = make_provider()
    for n in range(3):
        provider.queue_work(QueueType.WORKFLOW, f"before-{n}")
    assert receive(provider, QueueType.WORKFLOW) == "before-0"
    provider.complete_work(QueueType.WORKFLOW, "before-0")

    restart_rabbitmq(broker_control)

    provider.queue_work(QueueType.WORKFLOW, "after")
    received: set[str] = set()
    while len(received) < 3:
        item = receive(provider, QueueType.WORKFLOW)
        provider.complete_work(QueueType.WORKFLOW, item)
        received.add(item)
    assert received == {"before-1", "before-2", "after"}
    assert any(provider.address in record.getMessage() for record in caplog.records)


@pytest.mark.integration
def test_queue_work_raises_within_its_bound_while_the_broker_is_down(
    make_provider: Factory, broker_control: str
) -> None:
    provider = make_provider(publish_timeout=1.0)
    with stopped_rabbitmq(broker_control):
        started = time.monotonic()
        with pytest.raises(ProviderError, match=re.escape(provider.address)):
            provider.queue_work(QueueType.WORKFLOW, "workflow-1")
        assert time.monotonic() - started < 5.0


def test_start_against_an_unreachable_broker_raises_quickly() -> None:
    provider = RabbitMQQueueProvider("amqp://guest:guest@127.0.0.1:1/%2F")
    started = time.monotonic()
    with pytest.raises(ProviderError, match=re.escape("127.0.0.1:1")):
        provider.start()
    assert time.monotonic() - started < 5.0


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"url": "http://127.0.0.1:5672/"}, "amqp://"),
        ({"url": "garbage"}, "amqp://"),
        ({"url": "amqp://127.0.0.1:notaport/"}, "port"),
        ({"url": "amqp://127.0.0.1/?heartbeat=soon"}, "heartbeat"),
        ({"queue_prefix": ""}, "queue_prefix"),
        ({"prefetch": 0}, "prefetch"),
        ({"dequeue_timeout": 0}, "dequeue_timeout"),
        ({"publish_timeout": -1}, "publish_timeout"),
    ],
)
def test_bad_arguments_are_refused_at_construction(options: dict[str, Any], complaint: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(complaint)):
        RabbitMQQueueProvider(**options)
