"""The contract every persistence provider must honour, as runnable checks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..changes import WorkflowChanges
from ..clock import utcnow
from ..errors import LiteFlowError
from ..record_schema import (
    ACTION_PLAIN,
    POINTER_ID_LISTS,
    POINTER_PAYLOADS,
    POINTER_PLAIN,
    POINTER_TIMES,
    WORKFLOW_PAYLOADS,
    WORKFLOW_PLAIN,
    WORKFLOW_TIMES,
)
from ..records import (
    ExecutionError,
    ExecutionPointer,
    WorkflowAction,
    WorkflowInstance,
)
from ..serialization import register_type
from ._claim_checks import ClaimConformance
from ._event_checks import EventStoreChecks, sample_event, sample_subscription
from ._operator_checks import OperatorQueryChecks
from .coordination import CoordinationConformance

__all__ = ["PersistenceProviderConformance", "SampleData"]


@register_type  # liteflow's own packages are never known without it
@dataclass
class SampleData:
    """Workflow data of a user-defined class, as stored by the suite."""

    name: str = ""
    values: list[int] = field(default_factory=list)
    when: datetime | None = None


def _instance(
    definition_id: str = "ConformanceWorkflow",
    status: int = WorkflowInstance.RUNNABLE,
    next_execution: datetime | None = None,
    created: datetime | None = None,
) -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.workflow_definition_id = definition_id
    instance.version = 2
    instance.description = "conformance"
    instance.reference = "ref-1"
    instance.parent_workflow_id = "parent-1"
    instance.status = status
    instance.create_time = created or utcnow()
    instance.next_execution = next_execution
    instance.data = {"counter": 1, "items": ["a", "b"], "nested": {"flag": True}}
    pointer = ExecutionPointer()
    pointer.id = "pointer-1"
    pointer.step_id = 0
    pointer.active = True
    pointer.status = ExecutionPointer.RUNNING
    pointer.start_time = instance.create_time
    pointer.persistence_data = {"children_active": True, "index": 3}
    pointer.context_item = {"item": 7}
    pointer.children = ["child-1", "child-2"]
    pointer.scope = ["outer"]
    pointer.retry_count = 2
    pointer.step_name = "first"
    instance.execution_pointers.append(pointer)
    return instance


def _non_default(name: str, kinds: tuple[type, ...], status: int) -> object:
    if name == "status":
        return status
    if bool in kinds:
        return True
    if int in kinds:
        return 7
    return f"{name}-value"


def _every_field_set() -> WorkflowInstance:
    """An instance and a pointer with every stored field set to something other than its default."""
    moment = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    instance = WorkflowInstance()
    for name, kinds in WORKFLOW_PLAIN.items():
        setattr(instance, name, _non_default(name, kinds, WorkflowInstance.SUSPENDED))
    instance.id = ""
    for offset, name in enumerate(WORKFLOW_TIMES):
        setattr(instance, name, moment + timedelta(minutes=offset))
    for name in WORKFLOW_PAYLOADS:
        setattr(instance, name, {"field": name, "values": [1, 2.5, None]})
    plain: dict[str, Any] = {name: _non_default(name, kinds, 0) for name, kinds in ACTION_PLAIN.items()}
    instance.actions = [WorkflowAction(**plain, time=moment + timedelta(hours=1))]
    pointer = ExecutionPointer()
    for name, kinds in POINTER_PLAIN.items():
        setattr(pointer, name, _non_default(name, kinds, ExecutionPointer.WAITING))
    for name in POINTER_ID_LISTS:
        setattr(pointer, name, [f"{name}-1", f"{name}-2"])
    for offset, name in enumerate(POINTER_TIMES):
        setattr(pointer, name, moment + timedelta(seconds=offset))
    for name in POINTER_PAYLOADS:
        setattr(pointer, name, {"field": name})
    instance.execution_pointers.append(pointer)
    return instance


def _finished_pointer(pointer_id: str) -> ExecutionPointer:
    pointer = ExecutionPointer()
    pointer.id = pointer_id
    pointer.step_id = 3
    pointer.status = ExecutionPointer.COMPLETE
    pointer.start_time = utcnow() - timedelta(seconds=1)
    pointer.end_time = utcnow()
    pointer.scope = ["loop"]
    pointer.context_item = {"item": pointer_id}
    pointer.outcome = 7
    return pointer


class PersistenceProviderConformance(
    OperatorQueryChecks, CoordinationConformance, ClaimConformance, EventStoreChecks
):
    """Checks for `PersistenceProvider`; implement `create_provider` (a fresh, empty store)."""

    def test_create_assigns_id_and_get_round_trips_every_field(self) -> None:
        with self.provider() as store:
            original = _instance(next_execution=utcnow())
            workflow_id = store.create_workflow(original)
            assert workflow_id and original.id == workflow_id
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            for name in (
                "id",
                "workflow_definition_id",
                "version",
                "description",
                "reference",
                "parent_workflow_id",
                "status",
                "data",
                "create_time",
                "complete_time",
                "next_execution",
            ):
                assert getattr(loaded, name) == getattr(original, name), name
            assert loaded.create_time is not None and loaded.create_time.tzinfo is not None
            [pointer] = loaded.execution_pointers
            expected = original.execution_pointers[0]
            for name in vars(expected):
                assert getattr(pointer, name) == getattr(expected, name), name

    def test_every_field_of_the_models_round_trips(self) -> None:
        """Generated from `record_schema`: a field added to the models is checked here too."""
        with self.provider() as store:
            original = _every_field_set()
            workflow_id = store.create_workflow(original)
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            for name, value in vars(original).items():
                if name != "execution_pointers":
                    assert getattr(loaded, name) == value, name
            assert len(loaded.execution_pointers) == 1
            assert vars(loaded.execution_pointers[0]) == vars(original.execution_pointers[0])

    def test_user_class_data_round_trips(self) -> None:
        with self.provider() as store:
            original = _instance()
            original.data = SampleData("x", [1, 2], datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
            workflow_id = store.create_workflow(original)
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            assert isinstance(loaded.data, SampleData)
            assert loaded.data == original.data

    def test_get_unknown_instance_returns_none(self) -> None:
        with self.provider() as store:
            assert store.get_workflow_instance("no-such-workflow") is None

    def test_persist_replaces_the_stored_instance(self) -> None:
        with self.provider() as store:
            instance = _instance()
            workflow_id = store.create_workflow(instance)
            instance.status = WorkflowInstance.COMPLETE
            instance.complete_time = utcnow()
            instance.data = {"counter": 2}
            instance.execution_pointers[0].end_time = utcnow()
            instance.execution_pointers[0].active = False
            store.persist_workflow(instance)
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            assert loaded.status == WorkflowInstance.COMPLETE
            assert loaded.complete_time == instance.complete_time
            assert loaded.data == {"counter": 2}
            assert loaded.execution_pointers[0].active is False
            assert loaded.execution_pointers[0].end_time == instance.execution_pointers[0].end_time

    def test_loaded_instance_is_a_copy(self) -> None:
        with self.provider() as store:
            workflow_id = store.create_workflow(_instance())
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            loaded.status = WorkflowInstance.TERMINATED
            loaded.execution_pointers.clear()
            again = store.get_workflow_instance(workflow_id)
            assert again is not None
            assert again.status == WorkflowInstance.RUNNABLE
            assert len(again.execution_pointers) == 1

    def test_persist_creates_its_subscriptions_with_the_instance(self) -> None:
        with self.provider() as store:
            instance = _instance()
            workflow_id = store.create_workflow(instance)
            as_of = utcnow() - timedelta(seconds=5)
            subscriptions = [
                sample_subscription(workflow_id, key="k1", as_of=as_of),
                sample_subscription(workflow_id, key="k2", as_of=as_of),
            ]
            instance.execution_pointers[0].status = ExecutionPointer.WAITING
            store.persist_workflow(instance, subscriptions)
            assert all(subscription.id for subscription in subscriptions)
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            assert loaded.execution_pointers[0].status == ExecutionPointer.WAITING
            [found] = store.get_subscriptions("approved", "k1", utcnow())
            assert found.id == subscriptions[0].id
            assert found.workflow_id == workflow_id
            assert found.execution_pointer_id == "pointer-1"
            assert found.step_id == 1
            assert found.subscribe_as_of == as_of
            assert len(store.get_subscriptions("approved", "k2", utcnow())) == 1

    def test_persist_changes_writes_the_pass_and_everything_it_produced(self) -> None:
        with self.provider() as store:
            instance = _instance()
            workflow_id = store.create_workflow(instance)
            woken = store.create_subscription(sample_subscription(workflow_id, key="woken"))
            delivered = store.create_event(sample_event(key="woken"))
            earlier = sample_event(key="new")
            earlier.is_processed = True
            reopened = store.create_event(earlier)
            instance.execution_pointers[0].status = ExecutionPointer.WAITING
            error = ExecutionError()
            error.workflow_id, error.message, error.error_time = workflow_id, "step failed", utcnow()
            news = sample_event(name="child-done", key=workflow_id)
            new_subscription = sample_subscription(workflow_id, key="new")
            store.persist_changes(
                WorkflowChanges(
                    instance,
                    subscriptions=[new_subscription],
                    ended_subscriptions=[woken],
                    errors=[error],
                    events=[news],
                    event_marks={delivered: True, reopened: False},
                )
            )
            assert new_subscription.id and news.id
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None and loaded.execution_pointers[0].status == ExecutionPointer.WAITING
            assert store.get_subscriptions("approved", "woken", utcnow()) == []
            assert [s.id for s in store.get_subscriptions("approved", "new", utcnow())] == [
                new_subscription.id
            ]
            assert [e.message for e in store.get_errors(workflow_id)] == ["step failed"]
            stored_news = store.get_event(news.id)
            assert stored_news is not None and stored_news.event_key == workflow_id
            assert set(store.get_runnable_events(utcnow())) == {reopened, news.id}

    def test_a_failed_persist_changes_leaves_the_store_as_it_was(self) -> None:
        with self.provider() as store:
            instance = _instance()
            workflow_id = store.create_workflow(instance)
            existing = store.create_event(sample_event(key="existing"))
            instance.status = WorkflowInstance.COMPLETE
            instance.execution_pointers[0].active = False
            error = ExecutionError()
            error.workflow_id, error.message, error.error_time = workflow_id, "step failed", utcnow()
            clash = sample_event(name="child-done", key=workflow_id)
            clash.id = existing  # fails only once the rest of the pass is on its way
            changes = WorkflowChanges(
                instance,
                subscriptions=[sample_subscription(workflow_id, key="new")],
                errors=[error],
                events=[clash],
            )
            try:
                store.persist_changes(changes)
            except LiteFlowError:
                pass
            else:
                raise AssertionError("persist_changes accepted an event id that exists")
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            assert loaded.status == WorkflowInstance.RUNNABLE and loaded.execution_pointers[0].active
            assert store.get_subscriptions("approved", "new", utcnow()) == []
            assert store.get_errors(workflow_id) == []
            stored = store.get_event(existing)
            assert stored is not None and stored.event_key == "existing"

    def test_quarantine_suspends_an_instance_and_records_why(self) -> None:
        with self.provider() as store:
            instance = _instance(next_execution=utcnow() - timedelta(seconds=1))
            workflow_id = store.create_workflow(instance)
            error = ExecutionError()
            error.workflow_id, error.message, error.error_time = workflow_id, "cannot load", utcnow()
            assert store.quarantine_workflow(workflow_id, error) is True
            assert store.get_runnable_instances() == []
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            assert (loaded.status, loaded.next_execution) == (WorkflowInstance.SUSPENDED, None)
            assert loaded.data == instance.data and loaded.reference == instance.reference
            assert [found.message for found in store.get_errors(workflow_id)] == ["cannot load"]

    def test_quarantine_of_an_unknown_instance_says_so(self) -> None:
        with self.provider() as store:
            error = ExecutionError()
            error.workflow_id, error.message, error.error_time = "missing", "cannot load", utcnow()
            assert store.quarantine_workflow("missing", error) is False

    def test_archived_pointers_leave_the_instance_for_its_history(self) -> None:
        with self.provider() as store:
            if not store.keeps_pointer_history:
                return  # the engine keeps every pointer in the instance of such a store
            instance = _every_field_set()
            workflow_id = store.create_workflow(instance)
            archived = []
            for batch in range(3):
                finished = [_finished_pointer(f"done-{batch}-{n}") for n in range(2)]
                archived += finished
                store.persist_changes(WorkflowChanges(instance, archived_pointers=finished))
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None and len(loaded.execution_pointers) == 1
            history = store.get_pointer_history(workflow_id)
            assert [vars(pointer) for pointer in history] == [vars(pointer) for pointer in archived]
            page = store.get_pointer_history(workflow_id, skip=2, take=3)
            assert [pointer.id for pointer in page] == ["done-1-0", "done-1-1", "done-2-0"]
            instance.status, instance.complete_time = WorkflowInstance.COMPLETE, utcnow()
            store.persist_workflow(instance)
            assert store.purge_workflows(WorkflowInstance.COMPLETE, utcnow() + timedelta(seconds=1)) == 1
            assert store.get_pointer_history(workflow_id) == []

    def test_runnable_instances_are_due_runnable_ones_only(self) -> None:
        with self.provider() as store:
            now = utcnow()
            due = store.create_workflow(_instance(next_execution=now - timedelta(seconds=1)))
            later = store.create_workflow(_instance(next_execution=now + timedelta(hours=1)))
            store.create_workflow(_instance(next_execution=None))
            store.create_workflow(
                _instance(status=WorkflowInstance.SUSPENDED, next_execution=now - timedelta(seconds=1))
            )
            store.create_workflow(
                _instance(status=WorkflowInstance.COMPLETE, next_execution=now - timedelta(seconds=1))
            )
            assert set(store.get_runnable_instances(now)) == {due}
            assert set(store.get_runnable_instances(now + timedelta(hours=2))) == {due, later}

    def test_runnable_instances_default_to_now_and_accept_naive_times(self) -> None:
        with self.provider() as store:
            due = store.create_workflow(_instance(next_execution=utcnow() - timedelta(seconds=1)))
            assert store.get_runnable_instances() == [due]
            naive_future = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(hours=1)
            assert store.get_runnable_instances(naive_future) == [due]

    def test_errors_are_kept_per_workflow_in_order(self) -> None:
        with self.provider() as store:
            errors = []
            for n in range(3):
                error = ExecutionError()
                error.workflow_id = "w1" if n < 2 else "w2"
                error.execution_pointer_id = f"p{n}"
                error.error_time = utcnow() + timedelta(seconds=n)
                error.message = f"ValueError: boom {n}"
                errors.append(error)
            store.persist_errors(errors)
            store.persist_errors([])
            found = store.get_errors("w1")
            assert [error.message for error in found] == ["ValueError: boom 0", "ValueError: boom 1"]
            assert found[0].execution_pointer_id == "p0"
            assert found[0].error_time == errors[0].error_time
            assert len(store.get_errors("w2")) == 1
            assert store.get_errors("w3") == []

    def test_concurrent_persists_from_threads_lose_nothing(self) -> None:
        with self.provider() as store:
            ids: list[str] = []
            ids_lock = threading.Lock()
            failures: list[BaseException] = []

            def work(thread_number: int) -> None:
                try:
                    for n in range(25):
                        instance = _instance(definition_id=f"T{thread_number}")
                        workflow_id = store.create_workflow(instance)
                        instance.data = {"thread": thread_number, "n": n}
                        instance.status = WorkflowInstance.COMPLETE
                        store.persist_workflow(instance, [sample_subscription(workflow_id)])
                        with ids_lock:
                            ids.append(workflow_id)
                except BaseException as exc:
                    failures.append(exc)

            threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert failures == []
            assert len(set(ids)) == 200
            for workflow_id in ids:
                loaded = store.get_workflow_instance(workflow_id)
                assert loaded is not None and loaded.status == WorkflowInstance.COMPLETE
                assert set(loaded.data) == {"thread", "n"}
            assert len(store.get_subscriptions("approved", "k1", utcnow())) == 200

    def test_query_filters_and_pages_oldest_first(self) -> None:
        with self.provider() as store:
            base = utcnow() - timedelta(days=1)
            made = []
            for n in range(6):
                instance = _instance(
                    definition_id="A" if n % 2 == 0 else "B",
                    status=WorkflowInstance.COMPLETE if n < 3 else WorkflowInstance.RUNNABLE,
                    created=base + timedelta(minutes=n),
                )
                made.append(store.create_workflow(instance))
            assert [w.id for w in store.get_workflow_instances()] == made
            assert [w.id for w in store.get_workflow_instances(status=WorkflowInstance.COMPLETE)] == made[:3]
            assert [w.id for w in store.get_workflow_instances(definition_id="B")] == made[1::2]
            window = store.get_workflow_instances(
                created_from=base + timedelta(minutes=2), created_to=base + timedelta(minutes=4)
            )
            assert [w.id for w in window] == made[2:5]
            assert [w.id for w in store.get_workflow_instances(skip=2, take=3)] == made[2:5]
            assert store.get_workflow_instances(definition_id="nothing") == []

    def test_purge_deletes_old_finished_instances_only(self) -> None:
        with self.provider() as store:
            now = utcnow()
            old = _instance(status=WorkflowInstance.COMPLETE, created=now - timedelta(days=10))
            old.complete_time = now - timedelta(days=9)
            recent = _instance(status=WorkflowInstance.COMPLETE, created=now - timedelta(days=10))
            recent.complete_time = now - timedelta(hours=1)
            running = _instance(status=WorkflowInstance.RUNNABLE, created=now - timedelta(days=10))
            old_id = store.create_workflow(old)
            store.persist_errors([self._error(old_id)])
            recent_id = store.create_workflow(recent)
            running_id = store.create_workflow(running)
            assert store.purge_workflows(WorkflowInstance.COMPLETE, now - timedelta(days=1)) == 1
            assert store.get_workflow_instance(old_id) is None
            assert store.get_errors(old_id) == []
            assert store.get_workflow_instance(recent_id) is not None
            assert store.get_workflow_instance(running_id) is not None

    @staticmethod
    def _error(workflow_id: str) -> ExecutionError:
        error = ExecutionError()
        error.workflow_id = workflow_id
        error.execution_pointer_id = "pointer-1"
        error.error_time = utcnow()
        error.message = "RuntimeError: old"
        return error
