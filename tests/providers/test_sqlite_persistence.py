"""SqlitePersistenceProvider: the persistence contract on a file and in memory, then what only a
shared database file shows: WAL, several providers and processes on one file, atomic persists,
and stored data that can no longer be loaded."""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from liteflow.core.clock import utcnow
from liteflow.core.errors import InvalidArgumentError, ProviderError, SerializationError
from liteflow.core.providers import PersistenceProvider
from liteflow.core.records import EventSubscription, ExecutionPointer, WorkflowInstance
from liteflow.core.serialization import register_type
from liteflow.core.sqlite import SqlitePersistenceProvider
from liteflow.core.sqlite._schema import MIGRATIONS
from liteflow.core.testing import PersistenceProviderConformance

__all__: list[str] = []


class TestSqliteFilePersistence(PersistenceProviderConformance):
    def create_provider(self) -> PersistenceProvider:
        directory = tempfile.mkdtemp(prefix="liteflow-sqlite-")
        return SqlitePersistenceProvider(Path(directory) / "store.db")

    def dispose_provider(self, provider: PersistenceProvider) -> None:
        assert isinstance(provider, SqlitePersistenceProvider)
        provider.close()
        shutil.rmtree(Path(provider.path).parent)


class TestSqliteMemoryPersistence(PersistenceProviderConformance):
    def create_provider(self) -> PersistenceProvider:
        return SqlitePersistenceProvider(":memory:")


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqlitePersistenceProvider]:
    provider = SqlitePersistenceProvider(db_path)
    provider.start()
    yield provider
    provider.close()


def _workflow(data: Any = None) -> WorkflowInstance:
    workflow = WorkflowInstance()
    workflow.workflow_definition_id = "SqliteTest"
    workflow.create_time = utcnow()
    workflow.data = {"counter": 1} if data is None else data
    pointer = ExecutionPointer()
    pointer.id = "pointer-1"
    pointer.active = True
    pointer.start_time = workflow.create_time
    workflow.execution_pointers.append(pointer)
    return workflow


def _subscription(workflow_id: str, key: str = "k1") -> EventSubscription:
    subscription = EventSubscription()
    subscription.workflow_id = workflow_id
    subscription.execution_pointer_id = "pointer-1"
    subscription.event_name = "approved"
    subscription.event_key = key
    subscription.subscribe_as_of = utcnow() - timedelta(seconds=1)
    return subscription


def _persist_from_process(path: str, process_number: int, count: int, barrier: Any) -> None:
    """Runs in a spawned process: create and persist `count` instances once every process is ready."""
    barrier.wait(60)
    store = SqlitePersistenceProvider(path)
    store.start()
    for n in range(count):
        workflow = _workflow()
        workflow_id = store.create_workflow(workflow)
        workflow.data = {"process": process_number, "n": n}
        workflow.status = WorkflowInstance.COMPLETE
        store.persist_workflow(workflow, [_subscription(workflow_id)])
    store.close()


# ------------------------------------------------------------------------------------ the file


def test_file_database_is_in_wal_mode(store: SqlitePersistenceProvider, db_path: Path) -> None:
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_schema_is_created_on_first_use_without_start(db_path: Path) -> None:
    provider = SqlitePersistenceProvider(db_path)
    try:
        workflow_id = provider.create_workflow(_workflow())
        assert provider.get_workflow_instance(workflow_id) is not None
    finally:
        provider.close()


def test_two_providers_on_one_file_see_each_others_writes(db_path: Path) -> None:
    first = SqlitePersistenceProvider(db_path)
    second = SqlitePersistenceProvider(db_path)
    try:
        workflow = _workflow()
        workflow_id = first.create_workflow(workflow)
        seen = second.get_workflow_instance(workflow_id)
        assert seen is not None and seen.data == {"counter": 1}
        seen.data = {"counter": 2}
        second.persist_workflow(seen, [_subscription(workflow_id)])
        again = first.get_workflow_instance(workflow_id)
        assert again is not None and again.data == {"counter": 2}
        assert [s.workflow_id for s in first.get_subscriptions("approved", "k1", utcnow())] == [workflow_id]
    finally:
        first.close()
        second.close()


@pytest.mark.slow
def test_processes_persisting_concurrently_to_one_file_lose_nothing(db_path: Path) -> None:
    processes_count, per_process = 3, 100
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes_count)
    processes = [
        context.Process(target=_persist_from_process, args=(str(db_path), n, per_process, barrier))
        for n in range(processes_count)
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join(90)
            assert process.exitcode == 0, f"writer process exited with {process.exitcode}"
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    store = SqlitePersistenceProvider(db_path)
    try:
        stored = store.get_workflow_instances(take=1000)
        assert {(w.data["process"], w.data["n"]) for w in stored} == {
            (p, n) for p in range(processes_count) for n in range(per_process)
        }
        assert all(w.status == WorkflowInstance.COMPLETE for w in stored)
        assert len(store.get_subscriptions("approved", "k1", utcnow())) == processes_count * per_process
    finally:
        store.close()


def test_a_write_waits_for_another_connections_lock_then_succeeds(db_path: Path) -> None:
    store = SqlitePersistenceProvider(db_path, timeout=10)
    store.start()
    blocker = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.2, blocker.execute, ("COMMIT",))
        release.start()
        workflow_id = store.create_workflow(_workflow())
        release.join()
        assert store.get_workflow_instance(workflow_id) is not None
    finally:
        blocker.close()
        store.close()


def test_a_lock_held_past_the_timeout_raises_provider_error_promptly(db_path: Path) -> None:
    store = SqlitePersistenceProvider(db_path, timeout=0.3)
    store.start()
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(ProviderError, match="locked"):
            store.create_workflow(_workflow())
        assert time.monotonic() - started < 5
    finally:
        blocker.close()
        store.close()


# ------------------------------------------------------------------------------------ atomic persists


@pytest.mark.parametrize(
    ("place", "path"),
    [
        ("data", "data['lock']"),
        ("persistence_data", "execution_pointers[0].persistence_data['lock']"),
        ("context_item", "execution_pointers[0].context_item['lock']"),
        ("event_data", "execution_pointers[0].event_data['lock']"),
    ],
)
def test_unserializable_value_names_its_path_and_leaves_the_stored_instance_unchanged(
    store: SqlitePersistenceProvider, place: str, path: str
) -> None:
    workflow = _workflow()
    workflow_id = store.create_workflow(workflow)
    unstorable = {"lock": threading.Lock()}
    if place == "data":
        workflow.data = unstorable
    else:
        setattr(workflow.execution_pointers[0], place, unstorable)
    workflow.status = WorkflowInstance.COMPLETE
    with pytest.raises(SerializationError) as caught:
        store.persist_workflow(workflow, [_subscription(workflow_id)])
    assert path in str(caught.value)
    stored = store.get_workflow_instance(workflow_id)
    assert stored is not None
    assert (stored.status, stored.data) == (WorkflowInstance.RUNNABLE, {"counter": 1})
    pointer = stored.execution_pointers[0]
    assert (pointer.persistence_data, pointer.context_item, pointer.event_data) == (None, None, None)
    assert store.get_subscriptions("approved", "k1", utcnow()) == []


def test_failed_subscription_insert_rolls_back_the_instance_update(store: SqlitePersistenceProvider) -> None:
    workflow = _workflow()
    workflow_id = store.create_workflow(workflow)
    taken_id = store.create_subscription(_subscription("someone-else", key="taken"))
    fresh = _subscription(workflow_id, key="fresh")
    clashing = _subscription(workflow_id, key="clash")
    clashing.id = taken_id
    workflow.status = WorkflowInstance.COMPLETE
    workflow.data = {"counter": 2}
    with pytest.raises(InvalidArgumentError, match="UNIQUE"):
        store.persist_workflow(workflow, [fresh, clashing])
    stored = store.get_workflow_instance(workflow_id)
    assert stored is not None
    assert (stored.status, stored.data) == (WorkflowInstance.RUNNABLE, {"counter": 1})
    assert store.get_subscriptions("approved", "fresh", utcnow()) == []
    assert fresh.id == ""


def test_writers_queued_together_succeed_or_fail_each_on_their_own(db_path: Path) -> None:
    store = SqlitePersistenceProvider(db_path)
    store.start()
    taken_id = store.create_subscription(_subscription("someone-else", key="taken"))
    workflows = [_workflow() for _ in range(6)]
    for workflow in workflows:
        store.create_workflow(workflow)
    outcomes: dict[int, BaseException | None] = {}

    def persist(number: int) -> None:
        workflow = workflows[number]
        workflow.data = {"counter": 2}
        subscription = _subscription(workflow.id, key=f"k{number}")
        if number % 2:
            subscription.id = taken_id
        try:
            store.persist_workflow(workflow, [subscription])
            outcomes[number] = None
        except BaseException as exc:
            outcomes[number] = exc

    # While another connection holds the database, the writes pile up and then run as a group.
    blocker = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        threads = [threading.Thread(target=persist, args=(n,)) for n in range(len(workflows))]
        for thread in threads:
            thread.start()
        release = threading.Timer(0.2, blocker.execute, ("COMMIT",))
        release.start()
        for thread in threads:
            thread.join(30)
        release.join()
    finally:
        blocker.close()
    try:
        for number, workflow in enumerate(workflows):
            stored = store.get_workflow_instance(workflow.id)
            assert stored is not None
            found = store.get_subscriptions("approved", f"k{number}", utcnow())
            if number % 2:
                assert isinstance(outcomes[number], InvalidArgumentError)
                assert (stored.data, found) == ({"counter": 1}, [])
            else:
                assert outcomes[number] is None
                assert stored.data == {"counter": 2}
                assert [s.workflow_id for s in found] == [workflow.id]
    finally:
        store.close()


def test_persist_stores_an_instance_that_was_never_created(store: SqlitePersistenceProvider) -> None:
    workflow = _workflow()
    workflow.id = "made-elsewhere"
    store.persist_workflow(workflow)
    stored = store.get_workflow_instance("made-elsewhere")
    assert stored is not None and stored.data == {"counter": 1}


def test_persist_replaces_the_definition_version_and_create_time_too(
    store: SqlitePersistenceProvider,
) -> None:
    workflow = _workflow()
    workflow_id = store.create_workflow(workflow)
    workflow.workflow_definition_id = "Renamed"
    workflow.version = 7
    workflow.create_time = datetime(2020, 1, 1, tzinfo=timezone.utc)
    store.persist_workflow(workflow)
    stored = store.get_workflow_instance(workflow_id)
    assert stored is not None
    assert (stored.workflow_definition_id, stored.version, stored.create_time) == (
        "Renamed",
        7,
        datetime(2020, 1, 1, tzinfo=timezone.utc),
    )
    assert [w.id for w in store.get_workflow_instances(definition_id="Renamed")] == [workflow_id]


def test_a_tampered_subscription_time_fails_to_load_naming_the_subscription(
    store: SqlitePersistenceProvider, db_path: Path
) -> None:
    workflow_id = store.create_workflow(_workflow())
    subscription_id = store.create_subscription(_subscription(workflow_id))
    with closing(sqlite3.connect(db_path)) as connection, connection:
        connection.execute("UPDATE subscriptions SET subscribe_as_of = 1.5 WHERE id = ?", (subscription_id,))
    with pytest.raises(SerializationError) as caught:
        store.get_subscriptions("approved", "k1", utcnow())
    assert f"subscription {subscription_id!r} subscribe_as_of" in str(caught.value)
    assert "holds float, expected a time" in str(caught.value)


def test_stored_data_of_a_class_this_node_does_not_know_names_the_type_until_it_is_registered(
    store: SqlitePersistenceProvider, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_name = f"lf_payloads_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module_name}.py").write_text("class Payload:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    broken_id = store.create_workflow(_workflow({"replaced": True}))
    kept_id = store.create_workflow(_workflow({"kept": True}))
    document = json.dumps({"$type": "object", "class": f"{module_name}:Payload", "state": {"n": 1}})
    with closing(sqlite3.connect(db_path)) as connection, connection:
        connection.execute("UPDATE workflows SET data = ? WHERE id = ?", (document, broken_id))
    try:
        with pytest.raises(SerializationError) as caught:
            store.get_workflow_instance(broken_id)
        assert f"'{module_name}:Payload' cannot be loaded" in str(caught.value)
        assert broken_id in str(caught.value)
        assert module_name not in sys.modules
        kept = store.get_workflow_instance(kept_id)
        assert kept is not None and kept.data == {"kept": True}

        register_type(importlib.import_module(module_name).Payload)
        loaded = store.get_workflow_instance(broken_id)
        assert loaded is not None and type(loaded.data).__name__ == "Payload" and loaded.data.n == 1
    finally:
        sys.modules.pop(module_name, None)


# ------------------------------------------------------------------------------------ times


def test_naive_and_offset_times_are_stored_as_utc_microseconds(
    store: SqlitePersistenceProvider, db_path: Path
) -> None:
    workflow = _workflow()
    workflow.create_time = datetime(2026, 1, 2, 3, 4, 5, 6)
    workflow.next_execution = datetime(2026, 1, 2, 5, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    workflow_id = store.create_workflow(workflow)
    expected = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    stored = store.get_workflow_instance(workflow_id)
    assert stored is not None
    assert stored.create_time == stored.next_execution == expected
    assert stored.create_time is not None and stored.create_time.tzinfo is timezone.utc
    with sqlite3.connect(db_path) as raw:
        row = raw.execute("SELECT create_time, next_execution FROM workflows WHERE id = ?", (workflow_id,))
        micros = (expected - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
        assert row.fetchone() == (micros, micros)


# ------------------------------------------------------------------------------------ bad input


def test_a_path_that_cannot_be_opened_raises_provider_error_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="no-such-directory"):
        SqlitePersistenceProvider(tmp_path / "no-such-directory" / "store.db")


def test_a_file_that_is_not_a_database_raises_provider_error_at_construction(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the pages you are looking for\n" * 200)
    with pytest.raises(ProviderError, match="not a database"):
        SqlitePersistenceProvider(path)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"path": ""}, "path must not be empty"),
        ({"path": 42}, "path must be a str"),
        ({"path": ":memory:", "timeout": 0}, "timeout must be a positive number"),
        ({"path": ":memory:", "serializer": object()}, "serializer must be a Serializer"),
    ],
)
def test_bad_arguments_raise_invalid_argument_error(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        SqlitePersistenceProvider(**arguments)


#: What each migration added, undone: a store of an older schema version, made with today's code.
_UNDO_MIGRATIONS = {
    7: ("ALTER TABLE events DROP COLUMN queued_until", "ALTER TABLE workflows DROP COLUMN queued_until"),
    6: ("DROP TABLE shared_state",),
    5: (
        "DROP INDEX workflows_reference",
        "ALTER TABLE execution_errors DROP COLUMN traceback",
        "ALTER TABLE workflows DROP COLUMN actions",
    ),
    4: ("DROP TABLE pointer_history",),
    3: ("ALTER TABLE workflows DROP COLUMN trace_context",),
    2: ("DROP INDEX subscriptions_workflow",),
}


def _stored_at_schema_version(db_path: Path, version: int) -> str:
    """Store one instance, then take the file back to schema `version`; return the instance's id."""
    writer = SqlitePersistenceProvider(db_path)
    workflow_id = writer.create_workflow(_workflow())
    writer.close()
    with sqlite3.connect(db_path) as raw:
        for undone in range(len(MIGRATIONS), version, -1):
            for statement in _UNDO_MIGRATIONS[undone]:
                raw.execute(statement)
        raw.execute(f"PRAGMA user_version = {version}")
    return workflow_id


def test_a_database_of_schema_version_1_is_migrated_and_its_rows_still_load(db_path: Path) -> None:
    workflow_id = _stored_at_schema_version(db_path, 1)
    provider = SqlitePersistenceProvider(db_path)
    try:
        provider.start()
        loaded = provider.get_workflow_instance(workflow_id)
        assert loaded is not None and loaded.id == workflow_id
    finally:
        provider.close()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        indexes = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"subscriptions_workflow", "workflows_reference"} <= indexes


def test_a_database_of_schema_version_2_gets_the_trace_context_column(db_path: Path) -> None:
    old_id = _stored_at_schema_version(db_path, 2)
    provider = SqlitePersistenceProvider(db_path)
    try:
        provider.start()
        old = provider.get_workflow_instance(old_id)
        assert old is not None and old.trace_context is None
        traced = _workflow()
        traced.trace_context = '{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'
        loaded = provider.get_workflow_instance(provider.create_workflow(traced))
        assert loaded is not None and loaded.trace_context == traced.trace_context
    finally:
        provider.close()


def test_a_database_of_schema_version_6_gets_claims_and_its_due_instances_are_claimed(db_path: Path) -> None:
    due_id = _stored_at_schema_version(db_path, 6)
    with sqlite3.connect(db_path) as raw:  # due an hour ago
        raw.execute("UPDATE workflows SET next_execution = ?", (int((time.time() - 3600) * 1e6),))
    provider = SqlitePersistenceProvider(db_path)
    try:
        now = utcnow()
        assert provider.claim_runnable_instances(now, now + timedelta(seconds=20)) == [due_id]
        assert provider.claim_runnable_instances(now, now + timedelta(seconds=20)) == []
    finally:
        provider.close()


def test_providers_starting_on_one_new_file_at_once_migrate_it_once(db_path: Path) -> None:
    providers = [SqlitePersistenceProvider(db_path) for _ in range(4)]
    errors: list[BaseException] = []

    def start(provider: SqlitePersistenceProvider) -> None:
        try:
            provider.start()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(provider,)) for provider in providers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for provider in providers:
        provider.close()
    assert errors == []
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)


def test_a_database_from_a_newer_liteflow_is_refused(db_path: Path) -> None:
    with sqlite3.connect(db_path) as raw:
        raw.execute("PRAGMA user_version = 99")
    provider = SqlitePersistenceProvider(db_path)
    try:
        with pytest.raises(ProviderError, match="schema version 99"):
            provider.start()
    finally:
        provider.close()


def _open_handles(path: Path) -> list[str]:
    """This process's file descriptors on the database file (and its WAL and shared memory)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


def test_close_releases_the_file_and_a_later_call_opens_it_again(db_path: Path) -> None:
    provider = SqlitePersistenceProvider(db_path)
    workflow_id = provider.create_workflow(_workflow())
    assert provider.get_workflow_instance(workflow_id) is not None
    provider.close()
    provider.close()
    assert _open_handles(db_path) == []
    loaded = provider.get_workflow_instance(workflow_id)
    assert loaded is not None and loaded.id == workflow_id
    provider.close()
