"""Operators' repairs of a loaded instance: retry it from a step, skip a failed step, fork it.

Pure changes to an instance the caller has locked and loaded (the host writes the result
with a note in the instance's history). Each one checks first and refuses, changing
nothing, what makes no sense. What is known about the steps comes from the workflow's
definition when it is registered, else from the instance's own pointers (an operator's
tool may run without the application's definitions).
"""

from __future__ import annotations

import copy
from datetime import datetime

from .definition import WorkflowDefinition
from .errors import InvalidArgumentError, WorkflowStateError
from .pointers import new_pointer
from .records import ExecutionPointer, WorkflowAction, WorkflowInstance, new_id
from .result_processor import ResultProcessor

__all__ = ["STATUS_NAMES", "StepCatalog", "failed_pointers", "fork", "retry", "skip"]

STATUS_NAMES = {
    WorkflowInstance.RUNNABLE: "runnable",
    WorkflowInstance.SUSPENDED: "suspended",
    WorkflowInstance.COMPLETE: "complete",
    WorkflowInstance.TERMINATED: "terminated",
}


def _state(instance: WorkflowInstance) -> str:
    return STATUS_NAMES.get(instance.status, str(instance.status))


class StepCatalog:
    """The steps of an instance's workflow: from its definition, or from the pointers it has."""

    def __init__(self, instance: WorkflowInstance, definition: WorkflowDefinition | None) -> None:
        self.instance = instance
        self.definition = definition

    def name(self, step_id: int) -> str | None:
        if self.definition is not None:
            step = self.definition.find_step(step_id)
            return None if step is None else step.display_name
        return next((p.step_name for p in self.instance.execution_pointers if p.step_id == step_id), None)

    def describe(self, step_id: int) -> str:
        name = self.name(step_id)
        return f"step {step_id}" if name is None else f"step {step_id} ({name})"

    def known_ids(self) -> list[int]:
        if self.definition is not None:
            return [step.id for step in self.definition.steps]
        return sorted({pointer.step_id for pointer in self.instance.execution_pointers})

    def resolve(self, step: int | str) -> int:
        """The id of the step `step` names: its id (an int or digits) or its name (given with
        ``.name(...)`` or ``.id(...)``, else its class's name)."""
        if isinstance(step, str) and step.strip().isdigit():
            step = int(step)
        if isinstance(step, int) and not isinstance(step, bool):
            if step not in self.known_ids():
                raise InvalidArgumentError(f"{self._workflow()} has no step {step}; {self._listing()}")
            return step
        if not isinstance(step, str) or not step:
            raise InvalidArgumentError(f"a step is named by its id (an int) or its name, got {step!r}")
        matches = self._named(step)
        if not matches:
            raise InvalidArgumentError(f"{self._workflow()} has no step named {step!r}; {self._listing()}")
        if len(matches) > 1:
            shown = ", ".join(self.describe(step_id) for step_id in matches)
            raise InvalidArgumentError(
                f"{step!r} names several steps of {self._workflow()}: {shown}; use an id"
            )
        return matches[0]

    def _named(self, name: str) -> list[int]:
        if self.definition is None:
            return sorted({p.step_id for p in self.instance.execution_pointers if p.step_name == name})
        steps = self.definition.steps
        exact = [step.id for step in steps if name in (step.name, step.external_id)]
        return exact or [step.id for step in steps if step.display_name == name]

    def block_of(self, step_id: int) -> int | None:
        """The container step whose block `step_id` is in; None for the workflow's own chain
        (without a definition: for a step that has run there)."""
        if self.definition is not None:
            step = self.definition.find_step(step_id)
            return None if step is None else step.block_id
        scopes = [p.scope for p in self.instance.execution_pointers if p.step_id == step_id]
        if not scopes or not all(scopes):
            return None
        container = self.instance.find_pointer(scopes[0][0])
        return None if container is None else container.step_id

    def is_compensation(self, step_id: int) -> bool:
        step = None if self.definition is None else self.definition.find_step(step_id)
        return step is not None and step.is_compensation

    def _workflow(self) -> str:
        instance = self.instance
        return f"workflow {instance.id} ({instance.workflow_definition_id} v{instance.version})"

    def _listing(self) -> str:
        known = ", ".join(self.describe(step_id) for step_id in self.known_ids()) or "none"
        source = "" if self.definition is not None else " (that ran; give the application for all of them)"
        return f"its steps{source}: {known}"


def failed_pointers(instance: WorkflowInstance, step_id: int | None = None) -> list[ExecutionPointer]:
    """The pointers (of `step_id`, when given) whose step failed and that wait to run again."""
    return [
        pointer
        for pointer in instance.execution_pointers
        if pointer.status == ExecutionPointer.FAILED
        and pointer.end_time is None
        and (step_id is None or pointer.step_id == step_id)
    ]


def _stop(pointer: ExecutionPointer, now: datetime) -> None:
    pointer.active = False
    pointer.end_time = now
    pointer.sleep_until = None
    pointer.status = ExecutionPointer.CANCELLED


def _check_repairable(instance: WorkflowInstance, what: str) -> None:
    if instance.status not in (WorkflowInstance.SUSPENDED, WorkflowInstance.TERMINATED):
        hint = " (suspend it first)" if instance.status == WorkflowInstance.RUNNABLE else ""
        raise WorkflowStateError(
            f"workflow {instance.id} is {_state(instance)}: only a suspended or terminated "
            f"instance can be {what}{hint}"
        )


def _run_again(instance: WorkflowInstance, now: datetime) -> None:
    instance.status = WorkflowInstance.RUNNABLE
    instance.complete_time = None
    instance.next_execution = now


def retry(instance: WorkflowInstance, catalog: StepCatalog, step_id: int | None, now: datetime) -> str:
    """Make a suspended or terminated instance runnable again: its failed steps run again, with
    fresh attempts, or (with `step_id`) the flow restarts at that step. Returns what was done."""
    _check_repairable(instance, "retried")
    if step_id is None:
        failed = failed_pointers(instance)
        if not failed:
            raise WorkflowStateError(
                f"workflow {instance.id} has no failed step to run again; name the step to retry from"
            )
        for pointer in failed:
            _run_pointer_again(pointer, catalog)
        detail = "ran again " + ", ".join(catalog.describe(pointer.step_id) for pointer in failed)
    else:
        _restart_at(instance, catalog, step_id, now)
        detail = f"restarted at {catalog.describe(step_id)}"
    _run_again(instance, now)
    return detail


def _run_pointer_again(pointer: ExecutionPointer, catalog: StepCatalog) -> None:
    pointer.active = True
    pointer.status = ExecutionPointer.PENDING
    pointer.sleep_until = None
    pointer.retry_count = 0
    step = None if catalog.definition is None else catalog.definition.find_step(pointer.step_id)
    if step is not None:
        step.prime_for_retry(pointer)
    elif pointer.children:  # a container that branched: its children start afresh, as on a retry
        pointer.persistence_data = None


def _restart_at(instance: WorkflowInstance, catalog: StepCatalog, step_id: int, now: datetime) -> None:
    """A new pointer for the step, where its latest pointer was (same block, same foreach item);
    what still runs in that branch (and inside it) is cancelled. Other branches are untouched."""
    # Pointers are kept in the order they were made: the last is the latest; a failed one first.
    mine = [pointer for pointer in instance.execution_pointers if pointer.step_id == step_id]
    failed = failed_pointers(instance, step_id)
    previous = failed[-1] if failed else mine[-1] if mine else None
    if previous is None:
        if catalog.block_of(step_id) is not None:
            raise WorkflowStateError(
                f"{catalog.describe(step_id)} never ran in workflow {instance.id} and is inside a block; "
                "retry from the step of its block, or from a step that ran"
            )
        scope, item, predecessor = [], None, None
    else:
        for container_id in previous.scope:
            container = instance.find_pointer(container_id)
            if container is None or container.end_time is not None:
                which = (
                    "a block" if container is None else f"the block of {catalog.describe(container.step_id)}"
                )
                raise WorkflowStateError(
                    f"{catalog.describe(step_id)} ran inside {which}, which has finished; retry from "
                    "the step of that block"
                )
        scope, item, predecessor = list(previous.scope), previous.context_item, previous.predecessor_id
    ending = {
        pointer.id
        for pointer in instance.execution_pointers
        if pointer.end_time is None and pointer.scope == scope and pointer.context_item == item
    }
    for pointer in instance.execution_pointers:
        if pointer.end_time is None and (pointer.id in ending or ending.intersection(pointer.scope)):
            _stop(pointer, now)
    name = previous.step_name if previous is not None else _defined_name(catalog, step_id)
    restart = new_pointer(step_id, name)
    restart.scope = scope
    restart.context_item = item
    restart.predecessor_id = predecessor
    if scope:
        container = instance.find_pointer(scope[0])
        if container is not None:
            container.children.append(restart.id)
    instance.execution_pointers.append(restart)


def _defined_name(catalog: StepCatalog, step_id: int) -> str | None:
    """The name a pointer of the step carries: the one given with ``.name(...)``."""
    step = None if catalog.definition is None else catalog.definition.find_step(step_id)
    return None if step is None else step.name


def skip(
    instance: WorkflowInstance,
    definition: WorkflowDefinition,
    processor: ResultProcessor,
    step_id: int,
    now: datetime,
) -> str:
    """Mark the failed step complete without running it; the flow moves on from it (a
    suspended or terminated instance becomes runnable). Returns what was done."""
    catalog = StepCatalog(instance, definition)
    if instance.status == WorkflowInstance.COMPLETE:
        raise WorkflowStateError(f"workflow {instance.id} is complete: it has no failed step to skip")
    failed = failed_pointers(instance, step_id)
    if not failed:
        raise WorkflowStateError(
            f"{catalog.describe(step_id)} of workflow {instance.id} has not failed: only a failed "
            "step can be skipped"
        )
    step = definition.find_step(step_id)
    assert step is not None  # resolved against this definition
    for pointer in failed:
        processor.skip(instance, definition, pointer, step, now)
    _run_again(instance, now)
    return f"skipped {catalog.describe(step_id)}"


def fork(
    instance: WorkflowInstance, catalog: StepCatalog, step_id: int, now: datetime, actor: str | None
) -> WorkflowInstance:
    """A new instance of the same definition starting at `step_id` (a step of the workflow's
    own chain) with a copy of the instance's current data; not yet stored."""
    block = catalog.block_of(step_id)
    if block is not None:
        raise InvalidArgumentError(
            f"{catalog.describe(step_id)} is inside the block of {catalog.describe(block)}: a fork "
            "starts at a step of the workflow's own chain"
        )
    if catalog.is_compensation(step_id):
        raise InvalidArgumentError(
            f"{catalog.describe(step_id)} undoes another step: a fork cannot start there"
        )
    forked = WorkflowInstance()
    forked.workflow_definition_id = instance.workflow_definition_id
    forked.version = instance.version
    forked.description = instance.description
    forked.reference = instance.reference
    forked.data = copy.deepcopy(instance.data)
    forked.status = WorkflowInstance.RUNNABLE
    forked.create_time = now
    forked.next_execution = now
    name = _defined_name(catalog, step_id) if catalog.definition is not None else catalog.name(step_id)
    forked.execution_pointers.append(new_pointer(step_id, name))
    forked.id = new_id()
    forked.actions.append(
        WorkflowAction(
            WorkflowAction.FORKED_FROM,
            now,
            actor,
            step_id,
            instance.id,
            f"forked from {instance.id} at {catalog.describe(step_id)}",
        )
    )
    return forked
