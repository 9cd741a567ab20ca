"""Conformance checks of what operators' tools read: lists of summaries, actions, tracebacks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..clock import utcnow
from ..providers import PersistenceProvider
from ..queries import WorkflowQuery, summary_of
from ..records import ExecutionError, ExecutionPointer, WorkflowAction, WorkflowInstance
from ._suite import ProviderSuite

__all__ = ["OperatorQueryChecks"]


def _made(definition_id: str, status: int, created: datetime, reference: str | None) -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.workflow_definition_id = definition_id
    instance.status = status
    instance.create_time = created
    instance.reference = reference
    instance.description = "listed"
    instance.data = {"n": 1}
    instance.execution_pointers.append(ExecutionPointer())
    return instance


class OperatorQueryChecks(ProviderSuite[PersistenceProvider]):
    """Part of `PersistenceProviderConformance`."""

    def dispose_provider(self, provider: PersistenceProvider) -> None:
        provider.close()

    def _six(self, store: PersistenceProvider) -> tuple[datetime, list[str]]:
        """Six instances a minute apart: A/B alternating, the first three complete, refs r0..r2."""
        base = utcnow() - timedelta(days=1)
        made = []
        for n in range(6):
            status = WorkflowInstance.COMPLETE if n < 3 else WorkflowInstance.RUNNABLE
            instance = _made("A" if n % 2 == 0 else "B", status, base + timedelta(minutes=n), f"r{n % 3}")
            made.append(store.create_workflow(instance))
        return base, made

    def test_find_workflows_filters_and_pages_newest_first(self) -> None:
        with self.provider() as store:
            base, made = self._six(store)
            newest = made[::-1]
            assert [s.id for s in store.find_workflows(WorkflowQuery())] == newest
            assert [s.id for s in store.find_workflows(WorkflowQuery(skip=1, take=2))] == newest[1:3]
            complete = WorkflowQuery(status=WorkflowInstance.COMPLETE)
            assert [s.id for s in store.find_workflows(complete)] == made[2::-1]
            assert [s.id for s in store.find_workflows(WorkflowQuery(definition_id="B"))] == made[5::-2]
            window = WorkflowQuery(
                created_from=base + timedelta(minutes=2), created_to=base + timedelta(minutes=4)
            )
            assert [s.id for s in store.find_workflows(window)] == made[4:1:-1]
            assert store.find_workflows(WorkflowQuery(definition_id="nothing")) == []
            assert store.find_workflows(WorkflowQuery(take=0)) == []

    def test_find_workflows_by_reference(self) -> None:
        with self.provider() as store:
            _, made = self._six(store)
            found = store.find_workflows(WorkflowQuery(reference="r1"))
            assert [s.id for s in found] == [made[4], made[1]]
            both = WorkflowQuery(reference="r1", status=WorkflowInstance.RUNNABLE)
            assert [s.id for s in store.find_workflows(both)] == [made[4]]

    def test_find_workflows_oldest_first_when_asked(self) -> None:
        with self.provider() as store:
            _, made = self._six(store)
            assert [s.id for s in store.find_workflows(WorkflowQuery(newest_first=False))] == made

    def test_summaries_hold_the_instances_stored_fields(self) -> None:
        with self.provider() as store:
            instance = _made("A", WorkflowInstance.TERMINATED, utcnow(), "order-7")
            instance.parent_workflow_id = "parent-1"
            instance.complete_time = utcnow()
            instance.next_execution = utcnow() + timedelta(seconds=3)
            workflow_id = store.create_workflow(instance)
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            assert store.find_workflows(WorkflowQuery()) == [summary_of(loaded)]

    def test_actions_round_trip_in_order_with_exact_times(self) -> None:
        with self.provider() as store:
            instance = _made("A", WorkflowInstance.SUSPENDED, utcnow(), None)
            workflow_id = store.create_workflow(instance)
            moment = datetime(2026, 3, 4, 5, 6, 7, 654321, tzinfo=timezone.utc)
            instance.actions = [
                WorkflowAction(WorkflowAction.SUSPEND, moment, "ann"),
                WorkflowAction(
                    WorkflowAction.RETRY, moment + timedelta(microseconds=1), None, 3, None, "again"
                ),
                WorkflowAction(
                    WorkflowAction.FORK, moment + timedelta(hours=1), "bob", 0, "other-id", "forked"
                ),
            ]
            store.persist_workflow(instance)
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None
            assert loaded.actions == instance.actions
            assert loaded.actions[1].time.tzinfo is not None

    def test_a_new_instance_has_no_actions(self) -> None:
        with self.provider() as store:
            workflow_id = store.create_workflow(_made("A", WorkflowInstance.RUNNABLE, utcnow(), None))
            loaded = store.get_workflow_instance(workflow_id)
            assert loaded is not None and loaded.actions == []

    def test_an_errors_traceback_round_trips(self) -> None:
        with self.provider() as store:
            errors = []
            for traceback in (
                'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: <b>',
                None,
            ):
                error = ExecutionError()
                error.workflow_id = "w1"
                error.execution_pointer_id = "p1"
                error.error_time = utcnow()
                error.message = "ValueError: <b>"
                error.traceback = traceback
                errors.append(error)
            store.persist_errors(errors)
            assert [found.traceback for found in store.get_errors("w1")] == [errors[0].traceback, None]
