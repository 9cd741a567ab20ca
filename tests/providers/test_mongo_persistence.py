"""MongoPersistenceProvider against a real server over a real connection.

By default the mongoeco wire server that ``scripts/services.sh start mongo`` runs on port
27018; set ``LITEFLOW_MONGO_URI`` to test against another server (a real MongoDB). The restart
test runs its own private mongoeco server, so it never disturbs the shared one.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from liteflow.core.changes import WorkflowChanges
from liteflow.core.clock import utcnow
from liteflow.core.errors import InvalidArgumentError, ProviderError, SerializationError
from liteflow.core.providers import PersistenceProvider
from liteflow.core.records import Event, EventSubscription, ExecutionError, ExecutionPointer, WorkflowInstance
from liteflow.core.testing import PersistenceProviderConformance
from liteflow_mongo import MongoPersistenceProvider
from liteflow_mongo.documents import subscription_document
from liteflow_mongo.schema import LATEST_VERSION, SCHEMA
from tests.servers import drop_database, new_database_name, ping_mongo, require_mongo, require_server
from tests.support import wait_until

__all__: list[str] = []

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MONGOECO_PYTHON_ENV = "LITEFLOW_MONGOECO_PYTHON"
DEFAULT_MONGOECO_PYTHON = str(ROOT / ".services" / "mongoeco-venv" / "bin" / "python")
WIRE_SERVER = ROOT / "scripts" / "mongo_wire_server.py"

Raw = Database[dict[str, Any]]


def probe_mongoeco(python: str) -> None:
    subprocess.run([python, "-c", "import mongoeco.wire"], capture_output=True, timeout=60, check=True)


@pytest.fixture(scope="module")
def mongo_uri() -> str:
    return require_mongo()


@pytest.fixture
def raw(mongo_uri: str) -> Iterator[Raw]:
    """A fresh database seen directly through pymongo, dropped afterwards."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    database = client[new_database_name()]
    try:
        yield database
    finally:
        client.drop_database(database.name)
        client.close()


@pytest.fixture
def store(mongo_uri: str, raw: Raw) -> Iterator[MongoPersistenceProvider]:
    provider = MongoPersistenceProvider(mongo_uri, raw.name)
    provider.start()
    try:
        yield provider
    finally:
        provider.close()


class TestMongoPersistence(PersistenceProviderConformance):
    """The persistence contract, each test on a database of its own."""

    uri: str

    @pytest.fixture(autouse=True)
    def _mongo_uri(self, mongo_uri: str) -> None:
        self.uri = mongo_uri

    def create_provider(self) -> PersistenceProvider:
        return MongoPersistenceProvider(self.uri, new_database_name())

    def dispose_provider(self, provider: PersistenceProvider) -> None:
        assert isinstance(provider, MongoPersistenceProvider)
        provider.close()
        drop_database(self.uri, provider.database_name)


def waiting_instance() -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Approval"
    instance.create_time = utcnow()
    instance.next_execution = None
    instance.data = {"counter": 1, "nested": {"flag": True, "items": ["a", "b"]}}
    pointer = ExecutionPointer()
    pointer.id = "pointer-1"
    pointer.status = ExecutionPointer.WAITING
    pointer.event_name = "approved"
    pointer.event_key = "k1"
    pointer.start_time = instance.create_time
    pointer.persistence_data = {"attempt": 2}
    instance.execution_pointers.append(pointer)
    return instance


def subscription_for(workflow_id: str) -> EventSubscription:
    subscription = EventSubscription()
    subscription.workflow_id = workflow_id
    subscription.step_id = 1
    subscription.execution_pointer_id = "pointer-1"
    subscription.event_name = "approved"
    subscription.event_key = "k1"
    subscription.subscribe_as_of = utcnow() - timedelta(seconds=1)
    return subscription


def event_now(data: Any = None) -> Event:
    event = Event()
    event.event_name = "approved"
    event.event_key = "k1"
    event.event_data = data
    event.event_time = utcnow() - timedelta(seconds=1)
    return event


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


def test_stored_documents_are_readable_bson(store: MongoPersistenceProvider, raw: Raw) -> None:
    workflow_id = store.create_workflow(waiting_instance())
    event_id = store.create_event(event_now({"approved_by": "ann", "amount": 12}))
    stored = raw.workflows.find_one({"_id": workflow_id})
    event = raw.events.find_one({"_id": event_id})
    assert stored is not None and event is not None
    assert stored["data"] == {"counter": 1, "nested": {"flag": True, "items": ["a", "b"]}}
    assert stored["execution_pointers"][0]["persistence_data"] == {"attempt": 2}
    assert event["event_data"] == {"approved_by": "ann", "amount": 12}
    assert stored["create_time"].tzinfo is not None
    for document in (stored, event):
        assert not [leaf for leaf in leaves(document) if isinstance(leaf, (bytes, bytearray))]


def test_unstorable_data_fails_before_anything_is_written(store: MongoPersistenceProvider, raw: Raw) -> None:
    instance = waiting_instance()
    instance.data = {"callback": len}
    with pytest.raises(SerializationError, match="callback"):
        store.create_workflow(instance)
    assert instance.id == ""
    assert raw.workflows.count_documents({}) == 0


def test_a_crafted_stored_type_imports_nothing_and_other_instances_still_load(
    store: MongoPersistenceProvider, raw: Raw, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"lf_trap_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    crafted_id = store.create_workflow(waiting_instance())
    kept_id = store.create_workflow(waiting_instance())
    crafted = [
        {"$type": "object", "class": f"{module}:Payload", "state": {}},
        {"$type": "set", "items": [1, 1]},
    ]
    raw.workflows.update_one({"_id": crafted_id}, {"$set": {"data": crafted}})
    with pytest.raises(
        SerializationError, match=rf"'{module}:Payload' cannot be loaded: it is not a known type"
    ):
        store.get_workflow_instance(crafted_id)
    assert module not in sys.modules and not marker.exists()
    kept = store.get_workflow_instance(kept_id)
    assert kept is not None and kept.data == waiting_instance().data


def test_a_subscription_survives_a_crash_between_the_two_writes(
    mongo_uri: str, store: MongoPersistenceProvider, raw: Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = waiting_instance()
    workflow_id = store.create_workflow(instance)
    subscription = subscription_for(workflow_id)

    def crash(*_: Any) -> None:
        raise SystemExit("process died after writing the workflow")

    monkeypatch.setattr(store._journal, "apply", crash)
    with pytest.raises(SystemExit):
        store.persist_workflow(instance, [subscription])
    assert raw.subscriptions.count_documents({}) == 0
    restarted = MongoPersistenceProvider(mongo_uri, raw.name)
    try:
        [found] = restarted.get_subscriptions("approved", "k1", utcnow())
    finally:
        restarted.close()
    assert (found.id, found.workflow_id, found.execution_pointer_id) == (
        subscription.id,
        workflow_id,
        "pointer-1",
    )
    assert raw.subscriptions.count_documents({"_id": subscription.id}) == 1
    assert raw.workflows.find_one({"_id": workflow_id}, {"journal": 1}) == {"_id": workflow_id, "journal": []}


def test_a_later_persist_keeps_subscriptions_a_crash_left_pending(
    store: MongoPersistenceProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = waiting_instance()
    workflow_id = store.create_workflow(instance)
    subscription = subscription_for(workflow_id)
    with monkeypatch.context() as patch:
        patch.setattr(store._journal, "apply", lambda *_: None)
        store.persist_workflow(instance, [subscription])
    instance.status = WorkflowInstance.SUSPENDED
    store.persist_workflow(instance)
    assert [found.id for found in store.get_subscriptions("approved", "k1", utcnow())] == [subscription.id]


def test_a_crash_after_the_write_loses_no_event_error_or_mark_of_the_pass(
    mongo_uri: str, store: MongoPersistenceProvider, raw: Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal written with the instance is applied by the next poll of another node."""
    earlier = Event()
    earlier.event_name, earlier.event_key, earlier.event_time = "approved", "k1", utcnow()
    earlier.is_processed = True
    store.create_event(earlier)
    instance = waiting_instance()
    workflow_id = store.create_workflow(instance)
    news = Event()
    news.event_name, news.event_key, news.event_time = "child-done", workflow_id, utcnow()
    error = ExecutionError()
    error.workflow_id, error.message, error.error_time = workflow_id, "boom", utcnow()
    changes = WorkflowChanges(instance, errors=[error], events=[news], event_marks={earlier.id: False})
    with monkeypatch.context() as patch:
        patch.setattr(store._journal, "apply", lambda *_: None)
        store.persist_changes(changes)
    assert raw.events.count_documents({"_id": news.id}) == 0
    restarted = MongoPersistenceProvider(mongo_uri, raw.name)
    try:
        runnable = restarted.get_runnable_events(utcnow())
    finally:
        restarted.close()
    assert set(runnable) == {news.id, earlier.id}
    assert [found.message for found in store.get_errors(workflow_id)] == ["boom"]
    assert raw.workflows.find_one({"_id": workflow_id}, {"journal": 1}) == {"_id": workflow_id, "journal": []}


def test_terminate_subscription_by_id_takes_effect(store: MongoPersistenceProvider, raw: Raw) -> None:
    subscription_id = store.create_subscription(subscription_for("w1"))
    store.terminate_subscription(subscription_id)
    stored = raw.subscriptions.find_one({"_id": subscription_id})
    assert stored is not None and stored["terminated"] is True
    assert store.get_subscriptions("approved", "k1", utcnow()) == []


def test_mark_event_processed_by_id_takes_effect(store: MongoPersistenceProvider, raw: Raw) -> None:
    event_id = store.create_event(event_now())
    store.mark_event_processed(event_id)
    stored = raw.events.find_one({"_id": event_id})
    assert stored is not None and stored["is_processed"] is True
    assert store.get_runnable_events() == []


#: The key patterns each query needs (the provider may add more).
EXPECTED_INDEXES: dict[str, list[tuple[str, ...]]] = {
    "workflows": [("status", "next_execution"), ("create_time",), ("workflow_definition_id",)],
    "subscriptions": [("event_name", "event_key", "terminated", "subscribe_as_of")],
    "events": [("event_name", "event_key", "event_time"), ("is_processed", "event_time")],
    "execution_errors": [("workflow_id", "error_time")],
}


def assert_indexes_exist(raw: Raw) -> None:
    for collection, wanted in EXPECTED_INDEXES.items():
        present = {
            tuple(field for field, _ in index["key"])
            for index in raw[collection].index_information().values()
        }
        assert set(wanted) <= present, collection


def test_indexes_exist_after_start_and_a_second_start_is_harmless(
    store: MongoPersistenceProvider, raw: Raw
) -> None:
    store.start()
    assert_indexes_exist(raw)
    assert store.get_workflow_instance(store.create_workflow(waiting_instance())) is not None


def test_indexes_are_created_on_first_use_without_start(mongo_uri: str, raw: Raw) -> None:
    provider = MongoPersistenceProvider(mongo_uri, raw.name)
    try:
        provider.get_runnable_instances()
    finally:
        provider.close()
    assert_indexes_exist(raw)


def test_unreachable_server_fails_fast_at_construction_naming_the_address() -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"127\.0\.0\.1:1\b"):
        MongoPersistenceProvider("mongodb://127.0.0.1:1/", "liteflow")
    assert time.monotonic() - started < 6.5


def test_malformed_connection_string_is_rejected_at_construction() -> None:
    with pytest.raises(InvalidArgumentError, match="connection string"):
        MongoPersistenceProvider("http://127.0.0.1:27018/", "liteflow")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateServer:
    """A mongoeco wire server of this test's own, to stop and restart at will."""

    def __init__(self, python: str, port: int) -> None:
        self.python = python
        self.port = port
        self.uri = f"mongodb://127.0.0.1:{port}/"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.python, str(WIRE_SERVER), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=30, interval=0.1, what=f"mongoeco on port {self.port}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"mongoeco on port {self.port} exited with {self.process.returncode}")
        try:
            ping_mongo(self.uri)
        except Exception:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_server() -> Iterator[PrivateServer]:
    python = require_server(
        "mongoeco (for a private server)", MONGOECO_PYTHON_ENV, DEFAULT_MONGOECO_PYTHON, probe_mongoeco
    )
    server = PrivateServer(python, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_lost_connection_is_retried_until_the_server_is_back(
    private_server: PrivateServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="liteflow.mongo")
    provider = MongoPersistenceProvider(private_server.uri, "restart", server_selection_timeout=1.0)
    try:
        provider.start()
        assert provider.get_workflow_instance(provider.create_workflow(waiting_instance())) is not None
        private_server.stop()
        address = f"127.0.0.1:{private_server.port}"

        failures: list[BaseException] = []

        def restart_once_retrying() -> None:
            try:
                wait_until(
                    lambda: any(address in record.getMessage() for record in caplog.records),
                    timeout=30,
                    what="the provider to log the lost connection",
                )
                private_server.start()
            except BaseException as exc:
                failures.append(exc)

        restarter = threading.Thread(target=restart_once_retrying)
        restarter.start()
        workflow_id = provider.create_workflow(waiting_instance())
        restarter.join()
        assert failures == []
        assert provider.get_workflow_instance(workflow_id) is not None
        assert any(
            record.levelno == logging.WARNING and "reachable again" in record.getMessage()
            for record in caplog.records
        )
    finally:
        provider.close()


def test_a_store_of_schema_version_1_is_migrated_with_its_pending_subscriptions(
    mongo_uri: str, raw: Raw
) -> None:
    writer = MongoPersistenceProvider(mongo_uri, raw.name)
    instance = waiting_instance()
    workflow_id = writer.create_workflow(instance)
    writer.close()
    legacy = subscription_document(subscription_for(workflow_id))
    legacy["_id"] = "legacy-subscription"
    raw.workflows.update_one({"_id": workflow_id}, {"$set": {"pending_subscriptions": [legacy]}})
    raw.workflows.create_index("pending_subscriptions.event_name", name="pending_event_name")
    raw.drop_collection(SCHEMA)  # version 1 stores had no version document
    provider = MongoPersistenceProvider(mongo_uri, raw.name)
    try:
        provider.start()
        [found] = provider.get_subscriptions("approved", "k1", utcnow())
        loaded = provider.get_workflow_instance(workflow_id)
    finally:
        provider.close()
    assert found.id == "legacy-subscription" and loaded is not None
    assert raw[SCHEMA].find_one({"_id": "version"}) == {"_id": "version", "version": LATEST_VERSION}
    stored = raw.workflows.find_one({"_id": workflow_id})
    assert stored is not None and "pending_subscriptions" not in stored and stored["journal"] == []
    assert "pending_event_name" not in raw.workflows.index_information()


def test_a_new_store_starts_at_the_latest_schema_version(store: MongoPersistenceProvider, raw: Raw) -> None:
    assert raw[SCHEMA].find_one({"_id": "version"}) == {"_id": "version", "version": LATEST_VERSION}


def test_a_store_from_a_newer_liteflow_is_refused(mongo_uri: str, raw: Raw) -> None:
    raw[SCHEMA].insert_one({"_id": "version", "version": LATEST_VERSION + 1})
    provider = MongoPersistenceProvider(mongo_uri, raw.name)
    try:
        with pytest.raises(ProviderError, match=f"schema version {LATEST_VERSION + 1}"):
            provider.start()
    finally:
        provider.close()
