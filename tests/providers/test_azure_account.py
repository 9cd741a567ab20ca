"""The Azure providers also take an account object, as liteflow.core 0.3.1 did (the retired
SDK's ``CloudStorageAccount``: ``account_name``, ``account_key``, ``is_emulated``): what each
shape of account means to the v12 SDK, and an emulated account against Azurite."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from liteflow.core import WORKFLOW_QUEUE, InvalidArgumentError
from liteflow.providers.azure import AzureLockProvider, AzureQueueProvider
from liteflow_azure import StorageAccount
from liteflow_azure.account import connection_string_of
from tests.servers import require_azurite_on_default_ports
from tests.support import lock_nodes

__all__: list[str] = []

#: A syntactically valid account key (base64), for accounts no request is sent to.
KEY = "a2V5LW9mLWFuLWFjY291bnQ="

Factory = Callable[..., Any]
PROVIDERS = pytest.mark.parametrize("factory", [AzureQueueProvider, AzureLockProvider], ids=["queue", "lock"])


def unique(kind: str) -> str:
    return f"lft-{kind}-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize(
    ("service", "endpoint"),
    [
        (QueueServiceClient, "http://127.0.0.1:10001/devstoreaccount1/"),
        (BlobServiceClient, "http://127.0.0.1:10000/devstoreaccount1/"),
    ],
)
def test_an_emulated_account_is_the_development_account_on_its_default_ports(
    service: type[QueueServiceClient | BlobServiceClient], endpoint: str
) -> None:
    client = service.from_connection_string(connection_string_of(StorageAccount(is_emulated=True)))
    assert client.url == endpoint
    assert client.account_name == "devstoreaccount1"


def test_an_account_with_a_key_is_its_public_endpoint_signed_with_the_key() -> None:
    account = StorageAccount(account_name="acct", account_key=KEY)
    client = QueueServiceClient.from_connection_string(connection_string_of(account))
    assert client.url == "https://acct.queue.core.windows.net/"
    assert client.credential.account_key == KEY


def test_an_account_with_a_sas_token_and_endpoint_suffix_uses_both() -> None:
    account = StorageAccount(
        account_name="acct", sas_token="?sv=2020-08-04&sig=abc", endpoint_suffix="core.chinacloudapi.cn"
    )
    client = BlobServiceClient.from_connection_string(connection_string_of(account))
    assert client.url == "https://acct.blob.core.chinacloudapi.cn/?sv=2020-08-04&sig=abc"


def test_any_object_of_the_original_shape_is_read_by_its_attributes() -> None:
    account = SimpleNamespace(account_name="acct", account_key=KEY, is_emulated=False)
    client = BlobServiceClient.from_connection_string(connection_string_of(account))
    assert client.url == "https://acct.blob.core.windows.net/"


def test_a_connection_string_is_used_as_it_is() -> None:
    assert connection_string_of("UseDevelopmentStorage=true") == "UseDevelopmentStorage=true"


@PROVIDERS
def test_an_object_without_the_account_attributes_is_rejected_naming_them(factory: Factory) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"got SimpleNamespace, which has no account_key, is_emulated"
    ):
        factory(SimpleNamespace(account_name="acct"))


@PROVIDERS
def test_an_account_neither_named_nor_emulated_is_rejected(factory: Factory) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"needs an account_name \(or is_emulated=True\), got None"
    ):
        factory(StorageAccount(account_key=KEY))


@PROVIDERS
def test_an_account_without_key_token_or_credential_is_rejected(factory: Factory) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"account shared key|neither an AccountKey nor a SharedAccessSignature"
    ):
        factory(StorageAccount(account_name="acct"))


@pytest.fixture
def azurite() -> str:
    return require_azurite_on_default_ports()


@pytest.fixture
def emulated_queue(azurite: str) -> Iterator[AzureQueueProvider]:
    provider = AzureQueueProvider(
        StorageAccount(is_emulated=True), queue_prefix=unique("q"), dequeue_wait=0.5
    )
    provider.start()
    yield provider
    provider.shutdown()
    with QueueServiceClient.from_connection_string(azurite) as service:
        for name in provider.queue_names.values():
            service.delete_queue(name)


@pytest.mark.integration
def test_a_queue_on_an_emulated_account_hands_out_what_was_queued(emulated_queue: AzureQueueProvider) -> None:
    emulated_queue.queue_work(WORKFLOW_QUEUE, "workflow-1")
    assert emulated_queue.dequeue_work(WORKFLOW_QUEUE) == "workflow-1"
    emulated_queue.complete_work(WORKFLOW_QUEUE, "workflow-1")
    assert emulated_queue.dequeue_work(WORKFLOW_QUEUE) is None


@pytest.fixture
def emulated_lock_node(azurite: str) -> Iterator[Callable[..., AzureLockProvider]]:
    container = unique("locks")

    def create() -> AzureLockProvider:
        return AzureLockProvider(StorageAccount(is_emulated=True), container=container, lease_duration=15)

    with lock_nodes(create) as make:
        yield make
    with BlobServiceClient.from_connection_string(azurite) as service:
        service.delete_container(container)


@pytest.mark.integration
def test_locks_on_an_emulated_account_exclude_another_node(
    emulated_lock_node: Callable[..., AzureLockProvider],
) -> None:
    first, second = emulated_lock_node(), emulated_lock_node()
    assert first.acquire_lock("workflow-1")
    assert not second.acquire_lock("workflow-1")
    first.release_lock("workflow-1")
    assert second.acquire_lock("workflow-1")
