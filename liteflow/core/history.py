"""Moving finished pointers out of an instance, so a long workflow costs the same per step.

Every loop iteration, foreach item and recurrence leaves finished execution pointers behind.
Kept in the instance, each pass would scan, copy and store all of them: a loop's thousandth
iteration would cost a thousand times its first. So once an instance holds more than
`ARCHIVE_ABOVE` finished pointers, those nothing needs any more leave it for its history,
kept by the same store and written in the same atomic write as the pass
(`WorkflowChanges.archived_pointers`; ``get_pointer_history`` reads it back).

A finished pointer is still needed while an unfinished one names it as its predecessor
(a `when` reads its outcome; a compensation or the step after it waits for it), while it
contains unfinished ones, or while it is inside an open saga (a failure there compensates
the saga's completed steps). Small workflows never reach the threshold, so their instances
keep every pointer, as before.
"""

from __future__ import annotations

from .definition import WorkflowDefinition
from .records import ExecutionPointer, WorkflowInstance

__all__ = ["ARCHIVE_ABOVE", "archive_finished"]

#: Finished pointers an instance may hold before those nothing needs are archived; archiving
#: takes all of them at once, so it happens once every so many steps, not on every pass.
ARCHIVE_ABOVE = 64


def archive_finished(workflow: WorkflowInstance, definition: WorkflowDefinition) -> list[ExecutionPointer]:
    """Take the finished pointers nothing needs out of `workflow`; return them, oldest first."""
    pointers = workflow.execution_pointers
    if (
        len(pointers) <= ARCHIVE_ABOVE
        or sum(1 for pointer in pointers if pointer.end_time is not None) <= ARCHIVE_ABOVE
    ):
        return []
    needed: set[str] = set()
    open_sagas: set[str] = set()
    for pointer in pointers:
        if pointer.end_time is not None:
            continue
        if pointer.predecessor_id is not None:
            needed.add(pointer.predecessor_id)
        needed.update(pointer.scope)
        step = definition.find_step(pointer.step_id)
        if step is not None and step.is_transaction:
            open_sagas.add(pointer.id)
    kept: list[ExecutionPointer] = []
    archived: list[ExecutionPointer] = []
    for pointer in pointers:
        if pointer.end_time is None or pointer.id in needed or open_sagas.intersection(pointer.scope):
            kept.append(pointer)
        else:
            archived.append(pointer)
    if archived:
        gone = {pointer.id for pointer in archived}
        for pointer in kept:
            if pointer.children:
                pointer.children = [child for child in pointer.children if child not in gone]
        workflow.execution_pointers = kept
    return archived
