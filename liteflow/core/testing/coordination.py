"""Conformance checks of what hosts coordinate through: instances created under a chosen id,
and versioned shared state. Part of `PersistenceProviderConformance`."""

from __future__ import annotations

from ..clock import utcnow
from ..providers import PersistenceProvider
from ..records import WorkflowInstance
from ..shared_state import SharedState
from ._suite import ProviderSuite, race

__all__ = ["CoordinationConformance"]


def _chosen(workflow_id: str, reference: str) -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.id = workflow_id
    instance.workflow_definition_id = "ConformanceWorkflow"
    instance.reference = reference
    instance.create_time = utcnow()
    instance.next_execution = instance.create_time
    instance.data = {"from": reference}
    return instance


class CoordinationConformance(ProviderSuite[PersistenceProvider]):
    """Chosen instance ids and shared state; mixed into `PersistenceProviderConformance`."""

    def test_create_if_new_stores_an_instance_under_its_chosen_id(self) -> None:
        with self.provider() as store:
            assert store.create_workflow_if_new(_chosen("order-42", "first")) is True
            loaded = store.get_workflow_instance("order-42")
            assert loaded is not None and loaded.data == {"from": "first"}
            assert store.get_runnable_instances() == ["order-42"]

    def test_create_if_new_leaves_an_existing_instance_untouched(self) -> None:
        with self.provider() as store:
            store.create_workflow_if_new(_chosen("order-42", "first"))
            assert store.create_workflow_if_new(_chosen("order-42", "second")) is False
            loaded = store.get_workflow_instance("order-42")
            assert loaded is not None and loaded.reference == "first"

    def test_of_threads_creating_one_id_at_once_exactly_one_wins(self) -> None:
        with self.provider() as store:
            won = race(8, lambda n: store.create_workflow_if_new(_chosen("order-7", f"thread-{n}")))
            assert len(won) == 1
            loaded = store.get_workflow_instance("order-7")
            assert loaded is not None and loaded.reference == f"thread-{won[0]}"
            assert len(store.get_workflow_instances()) == 1

    def test_shared_state_round_trips_with_its_version(self) -> None:
        with self.provider() as store:
            assert store.get_shared_state("schedule", "daily") is None
            state = SharedState("schedule", "daily", {"cron": "0 9 * * *", "next": [1, 2.5, None]})
            assert store.put_shared_state(state) is True
            assert state.version == 1
            loaded = store.get_shared_state("schedule", "daily")
            assert loaded == SharedState(
                "schedule", "daily", {"cron": "0 9 * * *", "next": [1, 2.5, None]}, 1
            )

    def test_shared_state_is_written_only_at_the_version_read(self) -> None:
        with self.provider() as store:
            first = SharedState("window", "w", [1])
            assert store.put_shared_state(first)
            assert store.put_shared_state(SharedState("window", "w", [9])) is False  # exists already
            stale = SharedState("window", "w", [2], version=1)
            first.value = [1, 3]
            assert store.put_shared_state(first) and first.version == 2
            assert store.put_shared_state(stale) is False
            loaded = store.get_shared_state("window", "w")
            assert loaded is not None and (loaded.value, loaded.version) == ([1, 3], 2)

    def test_of_threads_changing_one_version_exactly_one_wins(self) -> None:
        with self.provider() as store:
            store.put_shared_state(SharedState("window", "w", 0))
            won = race(8, lambda n: store.put_shared_state(SharedState("window", "w", n, version=1)))
            assert len(won) == 1
            loaded = store.get_shared_state("window", "w")
            assert loaded is not None and (loaded.value, loaded.version) == (won[0], 2)

    def test_shared_states_of_a_kind_come_by_key(self) -> None:
        with self.provider() as store:
            for key in ("c", "a", "b"):
                store.put_shared_state(SharedState("waiting", key, {"key": key}))
            store.put_shared_state(SharedState("other", "a", None))
            assert [state.key for state in store.get_shared_states("waiting")] == ["a", "b", "c"]
            assert [state.key for state in store.get_shared_states("waiting", take=2)] == ["a", "b"]
            assert store.get_shared_states("waiting", take=0) == []
            assert store.get_shared_states("none") == []

    def test_shared_state_is_deleted_at_its_version_or_any(self) -> None:
        with self.provider() as store:
            store.put_shared_state(SharedState("waiting", "a", 1))
            store.put_shared_state(SharedState("waiting", "b", 1))
            assert store.delete_shared_state("waiting", "a", version=2) is False
            assert store.delete_shared_state("waiting", "a", version=1) is True
            assert store.delete_shared_state("waiting", "a") is False
            assert store.delete_shared_state("waiting", "b") is True
            assert store.get_shared_states("waiting") == []
            assert store.put_shared_state(SharedState("waiting", "a", 2))  # a new record again
