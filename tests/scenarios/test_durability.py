"""Durable hosts: bad data fails where it is made, unloadable data does not stop the host."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from liteflow.core import (
    ExecutionResult,
    SerializationError,
    SqlitePersistenceProvider,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
)
from tests.support import Scenario, running_host, wait_until


class WaitThenStep(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).wait_for(
            "go", lambda data, context: context.workflow.id
        ).then(lambda context: ExecutionResult.next())


class KeepsALock(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(self.remember).then(self.grab_lock).then(self.remember_again)

    @staticmethod
    def remember(context: StepExecutionContext) -> None:
        context.workflow.data["first"] = "stored"

    @staticmethod
    def grab_lock(context: StepExecutionContext) -> None:
        context.workflow.data["guard"] = threading.Lock()

    @staticmethod
    def remember_again(context: StepExecutionContext) -> None:
        context.workflow.data["second"] = "never"


@pytest.fixture
def sqlite_scenario(tmp_path: Path) -> Iterator[Scenario]:
    store = SqlitePersistenceProvider(tmp_path / "durable.db")
    with running_host(store) as host:
        yield Scenario(host)
    store.close()


def test_start_workflow_with_unstorable_data_fails_naming_type_and_path(sqlite_scenario: Scenario) -> None:
    sqlite_scenario.host.register_workflow(WaitThenStep())
    with pytest.raises(SerializationError, match=r"'lock' at data\['connection'\]"):
        sqlite_scenario.host.start_workflow("WaitThenStep", data={"connection": threading.Lock()})
    assert sqlite_scenario.host.persistence_service.get_workflow_instances() == []


def test_publish_event_with_unstorable_data_fails_naming_the_type(sqlite_scenario: Scenario) -> None:
    with pytest.raises(SerializationError, match="'generator'"):
        sqlite_scenario.host.publish_event("go", "key", (n for n in range(3)))


def test_step_producing_unstorable_data_suspends_at_the_last_stored_state(sqlite_scenario: Scenario) -> None:
    workflow_id = sqlite_scenario.run(KeepsALock(), {})
    instance = sqlite_scenario.wait_for_status(workflow_id, WorkflowInstance.SUSPENDED)
    assert instance.data == {"first": "stored"}
    wait_until(lambda: sqlite_scenario.errors(workflow_id), what="the recorded error")
    [message] = sqlite_scenario.errors(workflow_id)
    assert "SerializationError" in message and "'lock'" in message and "guard" in message


def test_data_of_a_type_this_node_does_not_know_does_not_stop_the_host(tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    with running_host(SqlitePersistenceProvider(database)) as host:
        scenario = Scenario(host)
        broken = scenario.run(WaitThenStep(), {"kind": "replaced below"})
        healthy = scenario.run(WaitThenStep(), {"kind": "dict"})
        scenario.wait_for_subscription("go", broken)
        scenario.wait_for_subscription("go", healthy)
    # As stored by a version of the application that had a class this one no longer has.
    gone = '{"$type":"object","class":"lf_retired.orders:Order","state":{}}'
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE workflows SET data = ? WHERE id = ?", (gone, broken))

    with running_host(SqlitePersistenceProvider(database)) as host:
        scenario = Scenario(host)
        host.register_workflow(WaitThenStep())
        host.publish_event("go", broken)
        host.publish_event("go", healthy)
        assert scenario.wait_for_completion(healthy).data == {"kind": "dict"}
        with pytest.raises(SerializationError, match=r"'lf_retired\.orders:Order' cannot be loaded"):
            host.get_workflow_instance(broken)
        assert all(thread.is_alive() for thread in host._threads)
