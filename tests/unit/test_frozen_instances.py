"""Instances as the in-memory store keeps them (`liteflow.core.frozen`)."""

from __future__ import annotations

import gc
from datetime import datetime, timezone

from liteflow.core.frozen import freeze, frozen_summary, thaw
from liteflow.core.queries import summary_of
from liteflow.core.records import ExecutionPointer, WorkflowAction, WorkflowInstance

__all__: list[str] = []

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _instance() -> WorkflowInstance:
    instance = WorkflowInstance()
    instance.id = "w-1"
    instance.workflow_definition_id = "Order"
    instance.version = 3
    instance.reference = "order-7"
    instance.create_time = T0
    instance.next_execution = T0
    instance.data = {"total": 12}
    instance.trace_context = '{"traceparent": "00-1"}'
    instance.actions = [WorkflowAction(WorkflowAction.SUSPEND, T0, "ops", "maintenance")]
    for step in range(3):
        pointer = ExecutionPointer()
        pointer.id = f"p-{step}"
        pointer.step_id = step
        pointer.status = ExecutionPointer.COMPLETE if step < 2 else ExecutionPointer.PENDING
        pointer.start_time = T0
        pointer.children = [f"c-{step}"]
        pointer.scope = ["p-0"] if step else []
        pointer.outcome = step
        instance.execution_pointers.append(pointer)
    return instance


def test_a_thawed_instance_has_every_value_of_the_frozen_one() -> None:
    instance = _instance()
    twin = thaw(freeze(instance))
    assert {k: v for k, v in vars(twin).items() if k != "execution_pointers"} == {
        k: v for k, v in vars(instance).items() if k != "execution_pointers"
    }
    assert [vars(p) for p in twin.execution_pointers] == [vars(p) for p in instance.execution_pointers]
    assert twin.data is instance.data  # data is shared, as the store documents


def test_changing_the_instance_after_freezing_changes_nothing_stored() -> None:
    instance = _instance()
    frozen = freeze(instance)
    instance.status = WorkflowInstance.COMPLETE
    instance.execution_pointers[0].children.append("late")
    instance.execution_pointers[1].status = ExecutionPointer.FAILED
    instance.actions.clear()
    thawed = thaw(frozen)
    assert thawed.status == WorkflowInstance.RUNNABLE
    assert thawed.execution_pointers[0].children == ["c-0"]
    assert thawed.execution_pointers[1].status == ExecutionPointer.COMPLETE
    assert len(thawed.actions) == 1
    thawed.execution_pointers[2].scope.append("mine")  # a thawed copy is its caller's own
    assert thaw(frozen).execution_pointers[2].scope == ["p-0"]


def test_the_summary_read_from_a_frozen_instance_is_the_instances_summary() -> None:
    instance = _instance()
    assert frozen_summary(freeze(instance)) == summary_of(instance)


def test_the_garbage_collector_stops_walking_a_stored_instances_pointers() -> None:
    frozen = freeze(_instance())
    for _ in range(3):  # each collection stops tracking one level of tuples of plain values
        gc.collect()
    values, pointers, _, _ = frozen
    assert not any(gc.is_tracked(pointer) for pointer in pointers)
    assert not gc.is_tracked(pointers)
    assert not gc.is_tracked(values)
