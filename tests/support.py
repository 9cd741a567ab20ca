"""Shared test helpers: polling with a deadline, a scenario harness over a real host."""

from __future__ import annotations

import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from liteflow.core import (
    ExecutionPointer,
    ExecutionResult,
    LockProvider,
    MemoryPersistenceProvider,
    PersistenceProvider,
    SqlitePersistenceProvider,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowHost,
    WorkflowInstance,
    configure_workflow_host,
)
from liteflow.core.clock import MAX_TIME
from tests.servers import (
    drop_database,
    drop_postgres_schema,
    new_database_name,
    postgres_test_database,
    require_mongo,
)

T = TypeVar("T")
LockT = TypeVar("LockT", bound=LockProvider)

__all__ = [
    "FailsOnce",
    "Hello",
    "PersistenceFactory",
    "Scenario",
    "load_crafted_data",
    "lock_nodes",
    "persistence_factories",
    "running_host",
    "wait_until",
]


def load_crafted_data(database: Path, stored_text: str) -> Any:
    """Store an instance in a SQLite file, write `stored_text` over its data by hand, load it back."""
    store = SqlitePersistenceProvider(database)
    try:
        instance = WorkflowInstance()
        instance.workflow_definition_id = "Crafted"
        instance.execution_pointers.append(ExecutionPointer())
        workflow_id = store.create_workflow(instance)
        with closing(sqlite3.connect(database)) as connection, connection:
            connection.execute("UPDATE workflows SET data = ? WHERE id = ?", (stored_text, workflow_id))
        loaded = store.get_workflow_instance(workflow_id)
        assert loaded is not None
        return loaded.data
    finally:
        store.close()


def wait_until(
    condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.005, what: str = "condition"
) -> T:
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


PersistenceFactory = Callable[[], AbstractContextManager[PersistenceProvider]]


@contextmanager
def memory_persistence() -> Iterator[PersistenceProvider]:
    yield MemoryPersistenceProvider()


@contextmanager
def sqlite_persistence() -> Iterator[PersistenceProvider]:
    """A fresh SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="liteflow-test-") as folder:
        provider = SqlitePersistenceProvider(Path(folder) / "liteflow.db")
        try:
            yield provider
        finally:
            provider.close()


@contextmanager
def mongo_persistence() -> Iterator[PersistenceProvider]:
    """A fresh database on the test MongoDB server, dropped afterwards."""
    from liteflow_mongo import MongoPersistenceProvider

    uri = require_mongo()
    name = new_database_name()
    provider = MongoPersistenceProvider(uri, name)
    try:
        yield provider
    finally:
        provider.close()
        drop_database(uri, name)


@contextmanager
def postgres_persistence() -> Iterator[PersistenceProvider]:
    """A fresh schema in this test run's PostgreSQL database, dropped afterwards."""
    from liteflow_postgres import PostgresPersistenceProvider

    dsn = postgres_test_database()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    provider = PostgresPersistenceProvider(dsn, schema=schema)
    try:
        yield provider
    finally:
        provider.close()
        drop_postgres_schema(dsn, schema)


def persistence_factories() -> dict[str, PersistenceFactory]:
    """Every persistence provider the scenario suite runs on, by name."""
    return {
        "memory": memory_persistence,
        "sqlite": sqlite_persistence,
        "mongo": mongo_persistence,
        "postgres": postgres_persistence,
    }


class Scenario:
    """A started host plus the waits every scenario needs."""

    def __init__(self, host: WorkflowHost) -> None:
        self.host = host

    def run(self, workflow: Workflow, data: Any = None, reference: str | None = None) -> str:
        if not self.host.registry.is_registered(workflow.id(), workflow.version()):
            self.host.register_workflow(workflow)
        return self.host.start_workflow(workflow.id(), workflow.version(), data, reference)

    def instance(self, workflow_id: str) -> WorkflowInstance:
        return self.host.get_workflow_instance(workflow_id)

    def wait_for_status(self, workflow_id: str, status: int, timeout: float = 10.0) -> WorkflowInstance:
        def reached() -> WorkflowInstance | None:
            instance = self.instance(workflow_id)
            return instance if instance.status == status else None

        found = wait_until(reached, timeout, what=f"workflow {workflow_id} to reach status {status}")
        assert found is not None
        return found

    def wait_for_completion(self, workflow_id: str, timeout: float = 10.0) -> WorkflowInstance:
        return self.wait_for_status(workflow_id, WorkflowInstance.COMPLETE, timeout)

    def wait_for_subscription(self, event_name: str, event_key: str, timeout: float = 10.0) -> None:
        wait_until(
            lambda: self.host.persistence_service.get_subscriptions(event_name, event_key, MAX_TIME),
            timeout,
            what=f"a subscription to {event_name}/{event_key}",
        )

    def errors(self, workflow_id: str) -> list[str]:
        return [error.message for error in self.host.persistence_service.get_errors(workflow_id)]


@contextmanager
def running_host(
    persistence: PersistenceProvider | None = None,
    prepare: Callable[[WorkflowHost], object] | None = None,
    **options: Any,
) -> Iterator[WorkflowHost]:
    """A started host; `prepare(host)` runs before it starts: a node that finds instances in
    the store must have their workflows registered first (it suspends those it does not know)."""
    settings: dict[str, Any] = {
        "poll_interval": timedelta(seconds=30),
        "default_error_retry_interval": timedelta(milliseconds=50),
    }
    settings.update(options)
    host = configure_workflow_host(persistence, **settings)
    if prepare is not None:
        prepare(host)
    host.start()
    try:
        yield host
    finally:
        host.stop(timeout=5)


@contextmanager
def lock_nodes(factory: Callable[..., LockT]) -> Iterator[Callable[..., LockT]]:
    """Make started lock providers with `factory` (one per simulated node); shut them all down after."""
    made: list[LockT] = []

    def make(**options: Any) -> LockT:
        provider = factory(**options)
        made.append(provider)
        provider.start()
        return provider

    try:
        yield make
    finally:
        for provider in made:
            provider.shutdown()


class Hello(StepBody):
    """Does nothing and moves on."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class FailsOnce(StepBody):
    """Raises ValueError("card declined") on its first try, then moves on."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if context.execution_pointer.retry_count == 0:
            raise ValueError("card declined")
        return ExecutionResult.next()
