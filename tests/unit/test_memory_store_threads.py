"""The in-memory store under threads: instances are written and read without its lock, so
walks over every instance (queries, purges, polls) must hold while writers add instances."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from liteflow.core import MemoryPersistenceProvider, WorkflowInstance
from liteflow.core.changes import WorkflowChanges
from liteflow.core.queries import WorkflowQuery
from liteflow.core.records import ExecutionPointer

__all__: list[str] = []

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _instance(n: int) -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.workflow_definition_id = "Order"
    instance.create_time = T0 + timedelta(microseconds=n)
    instance.next_execution = T0
    instance.data = {"n": n}
    instance.execution_pointers.append(ExecutionPointer())
    return instance


def test_queries_purges_and_polls_while_writers_add_and_finish_instances_see_no_torn_state() -> None:
    store = MemoryPersistenceProvider()
    errors: list[BaseException] = []
    writers_done = threading.Event()

    def write(offset: int) -> None:
        try:
            for n in range(offset, offset + 2000):
                instance = _instance(n)
                store.create_workflow(instance)
                instance.status = WorkflowInstance.COMPLETE
                instance.complete_time = T0
                instance.next_execution = None
                store.persist_changes(WorkflowChanges(instance))
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    def read() -> None:
        try:
            while not writers_done.is_set():
                for summary in store.find_workflows(WorkflowQuery(take=50)):
                    assert summary.workflow_definition_id == "Order"
                for instance in store.get_workflow_instances(take=50):
                    assert instance.data["n"] >= 0
                store.get_runnable_instances(T0 + timedelta(days=1))
                store.purge_workflows(WorkflowInstance.COMPLETE, T0 + timedelta(days=1))
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n * 2000,)) for n in range(3)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    writers_done.set()
    reader.join()
    assert errors == []
    # Every instance finished: none is due, and a last purge leaves the store empty.
    assert store.get_runnable_instances(T0 + timedelta(days=1)) == []
    store.purge_workflows(WorkflowInstance.COMPLETE, T0 + timedelta(days=1))
    assert store.find_workflows(WorkflowQuery(take=10)) == []
