"""How often a pass is written: each step on a durable store, consecutive steps together in memory."""

from __future__ import annotations

import threading

from liteflow.core import MemoryPersistenceProvider, Workflow, WorkflowBuilder, WorkflowInstance
from liteflow.core.changes import WorkflowChanges
from liteflow.core.sqlite import SqlitePersistenceProvider
from tests.support import Scenario, running_host


class RecordingMemory(MemoryPersistenceProvider):
    """The memory store, recording the completed pointers of every instance it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.completed_per_write: list[int] = []
        self._record_lock = threading.Lock()

    def persist_changes(self, changes: WorkflowChanges) -> None:
        done = sum(1 for pointer in changes.workflow.execution_pointers if pointer.end_time is not None)
        with self._record_lock:
            self.completed_per_write.append(done)
        super().persist_changes(changes)


class RecordingDurableMemory(RecordingMemory):
    """Stands for a durable store: the engine must write each step's result on its own."""

    is_durable = True


class ThreeSteps(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(lambda context: None).then(lambda context: None).then(lambda context: None)


def _run_three_steps(store: RecordingMemory) -> WorkflowInstance:
    with running_host(store) as host:
        scenario = Scenario(host)
        return scenario.wait_for_completion(scenario.run(ThreeSteps()))


def test_a_durable_store_gets_one_write_per_step() -> None:
    store = RecordingDurableMemory()
    _run_three_steps(store)
    assert store.completed_per_write == [1, 2, 3]


def test_the_memory_store_gets_consecutive_steps_in_one_write() -> None:
    store = RecordingMemory()
    finished = _run_three_steps(store)
    assert store.completed_per_write == [3]
    assert [pointer.step_id for pointer in finished.execution_pointers] == [0, 1, 2]


def test_sqlite_says_it_is_durable_and_the_memory_store_does_not() -> None:
    assert SqlitePersistenceProvider.is_durable
    assert not MemoryPersistenceProvider.is_durable
