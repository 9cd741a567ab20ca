"""AzureQueueProvider and AzureLockProvider against a real Azure Storage account (Azurite by
default, ``LITEFLOW_AZURE_CONNECTION_STRING``): the conformance suites, then what only these
providers do (visibility timeouts, private lock container, lease renewal and loss)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from azure.core.pipeline import PipelineRequest
from azure.storage.blob import BlobLeaseClient, BlobServiceClient, ContainerClient
from azure.storage.queue import QueueServiceClient

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.providers import LockProvider, QueueProvider, QueueType
from liteflow.core.testing import LockProviderConformance, QueueProviderConformance
from liteflow_azure import AzureLockProvider, AzureQueueProvider, blob_name
from tests.servers import require_azure
from tests.support import lock_nodes, wait_until

__all__: list[str] = []

pytestmark = pytest.mark.integration

#: The shortest lease Azure (and Azurite) accepts.
LEASE = 15
#: Nothing listens on port 1, so connecting is refused at once.
DEAD_ENDPOINTS = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;"
)


def unique(kind: str) -> str:
    return f"lft-{kind}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def azure() -> str:
    return require_azure()


@pytest.fixture(scope="module")
def container(azure: str) -> Iterator[str]:
    """One lock container for the module (resources are unique per test), deleted at the end."""
    name = unique("locks")
    yield name
    with BlobServiceClient.from_connection_string(azure) as service:
        service.delete_container(name)


@pytest.fixture
def lock_node(azure: str, container: str) -> Iterator[Callable[..., AzureLockProvider]]:
    """Make started lock providers (one per simulated node); shut them down after the test."""

    def create(**options: Any) -> AzureLockProvider:
        return AzureLockProvider(azure, **{"container": container, "lease_duration": LEASE, **options})

    with lock_nodes(create) as make:
        yield make


@pytest.fixture
def queue_node(azure: str) -> Iterator[Callable[..., AzureQueueProvider]]:
    """Make started queue providers on fresh queues; delete the queues after the test."""
    made: list[AzureQueueProvider] = []

    def make(**options: Any) -> AzureQueueProvider:
        options = {"queue_prefix": unique("q"), "dequeue_wait": 0.5, **options}
        provider = AzureQueueProvider(azure, **options)
        made.append(provider)
        provider.start()
        return provider

    yield make
    for provider in made:
        dispose_queues(azure, provider)


def dispose_queues(connection_string: str, provider: AzureQueueProvider) -> None:
    provider.shutdown()
    with QueueServiceClient.from_connection_string(connection_string) as service:
        for name in provider.queue_names.values():
            service.delete_queue(name)


def container_client(connection_string: str, name: str) -> ContainerClient:
    return BlobServiceClient.from_connection_string(connection_string).get_container_client(name)


def resource() -> str:
    """Shaped like the host's event locks, so names with ':' are exercised throughout."""
    return f"liteflow:event:{uuid.uuid4().hex}"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


class AzureAccount:
    """Gives each conformance test the connection string (skipped or failed when unreachable)."""

    connection_string: str
    container: str

    @pytest.fixture(autouse=True)
    def _azure(self, azure: str, container: str) -> None:
        self.connection_string = azure
        self.container = container


class TestAzureQueue(AzureAccount, QueueProviderConformance):
    max_empty_dequeue_seconds = 1.5

    def create_provider(self) -> QueueProvider:
        return AzureQueueProvider(self.connection_string, queue_prefix=unique("q"), dequeue_wait=0.5)

    def dispose_provider(self, provider: QueueProvider) -> None:
        assert isinstance(provider, AzureQueueProvider)
        dispose_queues(self.connection_string, provider)


class TestAzureLock(AzureAccount, LockProviderConformance):
    """The plain lock contract; renewal is checked below without waiting out a 15 s lease."""

    def create_provider(self) -> LockProvider:
        return AzureLockProvider(self.connection_string, container=self.container, lease_duration=LEASE)

    def create_peer(self, provider: LockProvider) -> LockProvider:
        return self.create_provider()


def test_leases_are_renewed_in_the_background(lock_node: Callable[..., AzureLockProvider]) -> None:
    renewals: list[str] = []

    def count_renewals(request: PipelineRequest[Any]) -> None:
        if request.http_request.headers.get("x-ms-lease-action") == "renew":
            renewals.append(request.http_request.url)

    lock = lock_node(renew_interval=0.2, raw_request_hook=count_renewals)
    peer, name = lock_node(), resource()
    assert lock.acquire_lock(name) is True
    wait_until(lambda: len(renewals) >= 3, timeout=5, what="three lease renewals")
    assert lock.holds_lock(name) is True
    assert peer.acquire_lock(name) is False
    assert all(blob_name(name) in unquote(url) for url in renewals)
    lock.release_lock(name)
    count = len(renewals)
    time.sleep(0.5)
    assert len(renewals) == count, "a released lease was renewed"
    assert peer.acquire_lock(name) is True


def test_lock_container_is_created_private(azure: str) -> None:
    name = unique("private")
    provider = AzureLockProvider(azure, container=name)
    provider.start()
    try:
        with container_client(azure, name) as client:
            assert client.get_container_access_policy()["public_access"] is None
    finally:
        provider.shutdown()
        with container_client(azure, name) as client:
            client.delete_container()


def test_a_public_lock_container_is_reported(azure: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="liteflow.azure")
    name = unique("public")
    with container_client(azure, name) as client:
        client.create_container(public_access="blob")
        provider = AzureLockProvider(azure, container=name)
        try:
            provider.start()
        finally:
            provider.shutdown()
            client.delete_container()
    assert any(name in message and "publicly readable" in message for message in warnings(caplog))


def test_a_broken_lease_is_reported_lost(
    azure: str, container: str, lock_node: Callable[..., AzureLockProvider], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="liteflow.azure")
    holder, thief, name = lock_node(renew_interval=0.1), lock_node(), resource()
    assert holder.acquire_lock(name) is True
    with container_client(azure, container) as client:
        BlobLeaseClient(client.get_blob_client(blob_name(name))).break_lease(lease_break_period=0)
    assert thief.acquire_lock(name) is True
    wait_until(lambda: not holder.holds_lock(name), timeout=5, what="the holder to notice its lost lease")
    assert thief.holds_lock(name) is True
    lost = [message for message in warnings(caplog) if "lost the lock" in message]
    assert any(name in message and container in message and "account" in message for message in lost), lost
    holder.release_lock(name)
    assert lock_node().acquire_lock(name) is False, "releasing a lost lease freed the new holder's"


def test_shutdown_releases_so_a_peer_acquires_at_once(lock_node: Callable[..., AzureLockProvider]) -> None:
    lock, peer, name = lock_node(), lock_node(), resource()
    assert lock.acquire_lock(name) is True
    lock.shutdown()
    assert lock.holds_lock(name) is False
    assert peer.acquire_lock(name) is True


def test_renewal_resumes_when_started_again(lock_node: Callable[..., AzureLockProvider]) -> None:
    renewed = threading.Event()

    def on_request(request: PipelineRequest[Any]) -> None:
        if request.http_request.headers.get("x-ms-lease-action") == "renew":
            renewed.set()

    lock = lock_node(renew_interval=0.1, raw_request_hook=on_request)
    lock.shutdown()
    lock.start()
    assert lock.acquire_lock(resource()) is True
    assert renewed.wait(5), "no renewal after start() following shutdown()"


def test_an_uncompleted_item_reappears_after_the_visibility_timeout(
    queue_node: Callable[..., AzureQueueProvider],
) -> None:
    queue = queue_node(visibility_timeout=1)
    queue.queue_work(QueueType.WORKFLOW, "workflow-1")
    assert queue.dequeue_work(QueueType.WORKFLOW) == "workflow-1"
    assert queue.dequeue_work(QueueType.WORKFLOW) is None
    again = wait_until(lambda: queue.dequeue_work(QueueType.WORKFLOW), timeout=5, what="the item to reappear")
    assert again == "workflow-1"
    queue.complete_work(QueueType.WORKFLOW, again)
    assert queue.dequeue_work(QueueType.WORKFLOW) is None


def test_completing_after_the_visibility_timeout_only_warns(
    queue_node: Callable[..., AzureQueueProvider], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="liteflow.azure")
    queue = queue_node(visibility_timeout=1)
    queue.queue_work(QueueType.EVENT, "event-1")
    first = queue.dequeue_work(QueueType.EVENT)
    second = wait_until(lambda: queue.dequeue_work(QueueType.EVENT), timeout=5, what="a redelivery")
    assert first == second == "event-1"
    queue.complete_work(QueueType.EVENT, "event-1")
    queue.complete_work(QueueType.EVENT, "event-1")
    assert any("event-1" in message and "visibility timeout" in message for message in warnings(caplog))
    assert queue.dequeue_work(QueueType.EVENT) is None


def test_any_text_round_trips(queue_node: Callable[..., AzureQueueProvider]) -> None:
    queue = queue_node()
    item = 'liteflow:event:<é & ü>\n"quoted" 🙂'
    queue.queue_work(QueueType.EVENT, item)
    assert queue.dequeue_work(QueueType.EVENT) == item
    queue.complete_work(QueueType.EVENT, item)


def test_an_idle_consumer_polls_ever_less_often(queue_node: Callable[..., AzureQueueProvider]) -> None:
    receives: list[str] = []

    def on_request(request: PipelineRequest[Any]) -> None:
        if request.http_request.method == "GET" and "/messages" in request.http_request.url:
            receives.append(request.http_request.url)

    queue = queue_node(dequeue_wait=1.5, max_poll_interval=1.0, raw_request_hook=on_request)
    assert queue.dequeue_work(QueueType.WORKFLOW) is None
    assert 3 <= len(receives) <= 6, f"{len(receives)} receives in one 1.5 s wait"


def test_a_locally_queued_item_wakes_a_waiting_consumer(
    queue_node: Callable[..., AzureQueueProvider],
) -> None:
    queue = queue_node(dequeue_wait=4.0, max_poll_interval=4.0)
    received: list[str | None] = []
    consumer = threading.Thread(target=lambda: received.append(queue.dequeue_work(QueueType.WORKFLOW)))
    consumer.start()
    time.sleep(0.3)
    started = time.monotonic()
    queue.queue_work(QueueType.WORKFLOW, "workflow-1")
    consumer.join(5)
    assert received == ["workflow-1"]
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("factory", [AzureQueueProvider, AzureLockProvider], ids=["queue", "lock"])
def test_an_unreachable_account_fails_at_start_naming_it(factory: Callable[[str], Any]) -> None:
    provider = factory(DEAD_ENDPOINTS)
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        provider.start()
    assert time.monotonic() - started < 5.0
    assert "127.0.0.1:1" in str(raised.value) and "devstoreaccount1" in str(raised.value)


@pytest.mark.parametrize(
    "connection_string",
    [
        "",
        "garbage",
        "Foo=bar",
        "AccountName=devstoreaccount1",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=not*base64!",
    ],
)
@pytest.mark.parametrize("factory", [AzureQueueProvider, AzureLockProvider], ids=["queue", "lock"])
def test_bad_connection_strings_are_rejected_at_construction(
    factory: Callable[[str], Any], connection_string: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"connection string|AccountKey"):
        factory(connection_string)


@pytest.mark.parametrize(
    "prefix", ["", "Upper", "with_underscore", "double--hyphen", "-leading", "trailing-", "x" * 54, 7]
)
def test_bad_queue_prefixes_are_rejected(prefix: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="queue_prefix"):
        AzureQueueProvider("UseDevelopmentStorage=true", queue_prefix=prefix)


@pytest.mark.parametrize("visibility", [0, 0.5, 1.5, 8 * 24 * 3600, "30"])
def test_bad_visibility_timeouts_are_rejected(visibility: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="visibility_timeout"):
        AzureQueueProvider("UseDevelopmentStorage=true", visibility_timeout=visibility)


@pytest.mark.parametrize(
    "options",
    [
        {"container": "ab"},
        {"container": "Locks"},
        {"container": "my_locks"},
        {"lease_duration": 14},
        {"lease_duration": 61},
        {"lease_duration": -1},
        {"lease_duration": 30.5},
        {"lease_duration": 30, "renew_interval": 30},
        {"renew_interval": 0},
    ],
)
def test_bad_lock_settings_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        AzureLockProvider("UseDevelopmentStorage=true", **options)


def test_blob_names_are_valid_readable_and_distinct() -> None:
    assert blob_name("liteflow:event:42") == "liteflow%3Aevent%3A42"
    assert blob_name("a/b.") == "a%2Fb%2E"
    long_name = "x" * 2000
    hashed = {blob_name(""), blob_name(long_name), blob_name(long_name + "y")}
    assert len(hashed) == 3
    assert all(name.startswith("sha256.") and len(name) == 71 for name in hashed)
    names = ["a.b", "a%2Eb", "a~b", "A.B", "sha256." + "0" * 64]
    assert len({blob_name(name) for name in names}) == len(names)
