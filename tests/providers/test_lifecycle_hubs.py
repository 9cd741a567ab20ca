"""The lifecycle event hub conformance suite over the in-process hub, Redis and RabbitMQ (real
servers), and hosts of a cluster seeing each other's events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from liteflow.core import (
    InvalidArgumentError,
    MemoryPersistenceProvider,
    Workflow,
    WorkflowBuilder,
    WorkflowHost,
    configure_workflow_host,
)
from liteflow.core.lifecycle import LifecycleEvent, WorkflowCompleted
from liteflow.core.lifecycle_hub import InProcessLifecycleEventHub, LifecycleEventHub
from liteflow.core.testing import LifecycleEventHubConformance
from tests.servers import rabbitmq_channel, require_rabbitmq, require_redis
from tests.support import wait_until

pytestmark = pytest.mark.integration


class TestInProcessHub(LifecycleEventHubConformance):
    # Its handlers run on the publishing thread (the host's dispatcher): see the check's docstring.
    test_a_slow_handler_does_not_hold_up_publishing = None  # type: ignore[assignment]

    def create_provider(self) -> LifecycleEventHub:
        return InProcessLifecycleEventHub()

    def create_peer(self, provider: LifecycleEventHub) -> LifecycleEventHub:
        return provider


def redis_hub(channel: str) -> LifecycleEventHub:
    from liteflow_redis import RedisLifecycleEventHub

    return RedisLifecycleEventHub(require_redis()[0], channel=channel)


def rabbitmq_hub(channel: str) -> LifecycleEventHub:
    from liteflow_rabbitmq import RabbitMQLifecycleEventHub

    return RabbitMQLifecycleEventHub(require_rabbitmq(), exchange=channel)


class TestRedisHub(LifecycleEventHubConformance):
    channel = f"liteflow-test:lifecycle:{uuid.uuid4().hex}"

    def create_provider(self) -> LifecycleEventHub:
        return redis_hub(self.channel)


def delete_exchange(name: str) -> None:
    """Test exchanges are not left on the shared broker."""
    with rabbitmq_channel(require_rabbitmq()) as channel:
        channel.exchange_delete(name)


class TestRabbitMQHub(LifecycleEventHubConformance):
    channel = f"liteflow-test.lifecycle.{uuid.uuid4().hex}"

    def create_provider(self) -> LifecycleEventHub:
        return rabbitmq_hub(self.channel)

    @classmethod
    def teardown_class(cls) -> None:
        delete_exchange(cls.channel)


HUBS: dict[str, Callable[[str], LifecycleEventHub]] = {"redis": redis_hub, "rabbitmq": rabbitmq_hub}


class Short(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None)


@pytest.fixture(params=sorted(HUBS))
def two_nodes(request: pytest.FixtureRequest) -> Iterator[tuple[WorkflowHost, WorkflowHost]]:
    """Two started hosts (stores of their own) whose hubs share one channel."""
    channel = f"liteflow-test.lifecycle.{uuid.uuid4().hex}"
    hosts = [
        configure_workflow_host(MemoryPersistenceProvider(), lifecycle_event_hub=HUBS[request.param](channel))
        for _ in range(2)
    ]
    for host in hosts:
        host.register_workflow(Short())
        host.start()
    try:
        yield hosts[0], hosts[1]
    finally:
        for host in hosts:
            host.stop(timeout=5)
        if request.param == "rabbitmq":
            delete_exchange(channel)


def completed(events: list[LifecycleEvent]) -> set[str]:
    return {event.workflow_instance_id for event in events if isinstance(event, WorkflowCompleted)}


def test_a_handler_on_one_node_sees_every_nodes_events(two_nodes: tuple[WorkflowHost, WorkflowHost]) -> None:
    first, second = two_nodes
    seen_on_first: list[LifecycleEvent] = []
    first.on_lifecycle_event(seen_on_first.append)
    ids = {first.start_workflow("Short"), second.start_workflow("Short")}
    wait_until(lambda: completed(seen_on_first) == ids, what="both nodes' WorkflowCompleted")


def test_a_node_only_handler_sees_only_its_hosts_events(two_nodes: tuple[WorkflowHost, WorkflowHost]) -> None:
    first, second = two_nodes
    everything: list[LifecycleEvent] = []
    own: list[LifecycleEvent] = []
    first.on_lifecycle_event(everything.append)
    first.on_lifecycle_event(own.append, cluster=False)
    mine, theirs = first.start_workflow("Short"), second.start_workflow("Short")
    wait_until(lambda: completed(everything) == {mine, theirs}, what="both nodes' WorkflowCompleted")
    assert completed(own) == {mine}


def test_a_hub_with_an_unusable_address_is_refused_by_name() -> None:
    from liteflow_rabbitmq import RabbitMQLifecycleEventHub
    from liteflow_redis import RedisLifecycleEventHub

    with pytest.raises(InvalidArgumentError, match="redis://"):
        RedisLifecycleEventHub("http://localhost:6379")
    with pytest.raises(InvalidArgumentError, match="amqp://"):
        RabbitMQLifecycleEventHub("redis://localhost")
