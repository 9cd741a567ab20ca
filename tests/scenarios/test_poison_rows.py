"""Records that cannot be loaded, written straight into a store, are put aside: the instance is
suspended with an error after a few tries and logged once, the event is marked failed, and an
ordinary workflow started beside them completes on time."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from liteflow.core import (
    Event,
    PersistenceProvider,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
)
from liteflow.core.clock import utcnow
from liteflow.core.quarantine import QUARANTINE_AFTER
from tests.servers import drop_database, new_database_name, require_mongo
from tests.support import Scenario, running_host, wait_until

#: Stored data naming a module that exists nowhere: loading it must fail, and nothing is imported.
UNKNOWN_TYPE = {"$type": "object", "class": "liteflow_nowhere_module:Thing", "state": {}}
TAMPERED_POINTER = {"id": "p1", "step_id": "not a number", "active": True}


@dataclass
class Store:
    provider: PersistenceProvider
    #: Overwrite a stored field of an instance ("data" or "execution_pointers") with a raw value.
    tamper_workflow: Callable[[str, str, Any], None]
    #: Overwrite an event's stored data with a raw value.
    tamper_event: Callable[[str, Any], None]
    is_processed: Callable[[str], bool]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    import json

    from liteflow.core import SqlitePersistenceProvider

    path = tmp_path / "poison.db"
    provider = SqlitePersistenceProvider(path)

    def write(sql: str, *parameters: Any) -> None:
        with sqlite3.connect(path) as raw:
            raw.execute(sql, parameters)

    def processed(event_id: str) -> bool:
        with sqlite3.connect(path) as raw:
            return bool(
                raw.execute("SELECT is_processed FROM events WHERE id = ?", (event_id,)).fetchone()[0]
            )

    yield Store(
        provider,
        lambda workflow_id, field, value: write(
            f"UPDATE workflows SET {field} = ? WHERE id = ?", json.dumps(value), workflow_id
        ),
        lambda event_id, value: write(
            "UPDATE events SET event_data = ? WHERE id = ?", json.dumps(value), event_id
        ),
        processed,
    )
    provider.close()


@pytest.fixture
def mongo_store() -> Iterator[Store]:
    from pymongo import MongoClient

    from liteflow_mongo import MongoPersistenceProvider

    uri = require_mongo()
    name = new_database_name()
    provider = MongoPersistenceProvider(uri, name)
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    raw = client[name]

    def processed(event_id: str) -> bool:
        found = raw.events.find_one({"_id": event_id})
        return bool(found and found["is_processed"])

    try:
        yield Store(
            provider,
            lambda workflow_id, field, value: raw.workflows.update_one(
                {"_id": workflow_id}, {"$set": {field: value}}
            ),
            lambda event_id, value: raw.events.update_one({"_id": event_id}, {"$set": {"event_data": value}}),
            processed,
        )
    finally:
        provider.close()
        client.close()
        drop_database(uri, name)


@pytest.fixture(params=["sqlite", "mongo"])
def store(request: pytest.FixtureRequest) -> Store:
    found: Store = request.getfixturevalue(f"{request.param}_store")
    return found


class Greet(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(self.greet)

    @staticmethod
    def greet(context: StepExecutionContext) -> None:
        context.workflow.data["greeted"] = True


def _due_instance(store: Store) -> str:
    """A runnable instance of a registered workflow, stored but not queued."""
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Greet"
    instance.create_time = instance.next_execution = utcnow()
    instance.data = {}
    return store.provider.create_workflow(instance)


@pytest.mark.parametrize(
    ("field", "value", "cause"),
    [
        ("data", UNKNOWN_TYPE, "liteflow_nowhere_module"),
        ("execution_pointers", [TAMPERED_POINTER], "step_id"),
    ],
)
def test_an_instance_that_cannot_be_loaded_is_suspended_once_and_others_go_on(
    store: Store, field: str, value: Any, cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running_host(store.provider, poll_interval=0.1) as host:
        scenario = Scenario(host)
        host.register_workflow(Greet())
        poisoned = _due_instance(store)
        store.tamper_workflow(poisoned, field, value)
        started = time.monotonic()
        ordinary = host.start_workflow("Greet", data={})
        assert scenario.wait_for_completion(ordinary).data == {"greeted": True}
        assert time.monotonic() - started < 5

        # It cannot be loaded, so its status is seen through the runnable ones.
        wait_until(
            lambda: poisoned not in store.provider.get_runnable_instances(),
            what="the poisoned instance to be suspended",
        )
        [error] = scenario.errors(poisoned)
        assert cause in error and "cannot be loaded" in error
        time.sleep(0.5)  # five more poll intervals
        assert len(scenario.errors(poisoned)) == 1
    put_aside = [r for r in caplog.records if r.levelno >= logging.ERROR and poisoned in r.getMessage()]
    assert len(put_aside) == 1
    assert f"after {QUARANTINE_AFTER} failures" in put_aside[0].getMessage()


def test_an_event_that_cannot_be_loaded_is_marked_failed(store: Store) -> None:
    event = Event()
    event.event_name, event.event_key, event.event_time = "poison", "k", utcnow()
    event.event_data = {"fine": True}
    event_id = store.provider.create_event(event)
    store.tamper_event(event_id, UNKNOWN_TYPE)
    with running_host(store.provider, poll_interval=0.1) as host:
        wait_until(lambda: store.is_processed(event_id), what="the poisoned event to be marked")
        [error] = Scenario(host).errors(event_id)
        assert "liteflow_nowhere_module" in error and "event" in error
        assert event_id not in store.provider.get_runnable_events()
