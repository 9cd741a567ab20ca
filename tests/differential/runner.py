"""Runs a program on a real, started host and reads back what happened."""

from __future__ import annotations

import time
from itertools import count

from liteflow.core import ExecutionPointer, WorkflowHost, WorkflowInstance

from . import tracing
from .compiler import CompiledWorkflow
from .expectation import ActualRun
from .program import Program

__all__ = ["run_on_host"]

_numbers = count(1)


def run_on_host(host: WorkflowHost, program: Program, max_entries: int, timeout: float = 10.0) -> ActualRun:
    """Register and start `program`, publish each event once a step waits for it, and return
    the run once it is no longer runnable.

    A run past `max_entries` entries runs away: it terminates itself (see `Steps`). A run
    still runnable after `timeout` seconds stalled: it is terminated, so it does not linger.
    """
    workflow = CompiledWorkflow(program, f"differential-{next(_numbers)}", max_entries)
    host.register_workflow(workflow)
    workflow_id = host.start_workflow(workflow.id(), workflow.version(), tracing.new_data())
    published: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        instance = host.get_workflow_instance(workflow_id)
        actual = _actual(instance)
        if len(actual.trace) > max_entries:
            actual.unfinished = f"ran away: past {max_entries} entries (the test terminated it)"
            return actual
        if instance.status != WorkflowInstance.RUNNABLE:
            return actual
        for pointer in instance.execution_pointers:
            if _waiting(pointer) and pointer.id not in published:
                published.add(pointer.id)
                name, key = pointer.event_name or "", pointer.event_key or ""
                host.publish_event(name, key, tracing.event_payload(name, key))
        if time.monotonic() > deadline:
            host.terminate_workflow(workflow_id)
            actual.unfinished = f"still runnable after {timeout:.0f} s (the run stalled)"
            return actual
        time.sleep(0.002)


def _waiting(pointer: ExecutionPointer) -> bool:
    return (
        pointer.status == ExecutionPointer.WAITING
        and pointer.event_name is not None
        and not pointer.event_published
        and pointer.end_time is None
    )


def _actual(instance: WorkflowInstance) -> ActualRun:
    data = instance.data if isinstance(instance.data, dict) else {}
    return ActualRun(instance.status, list(data.get("trace", [])), data)
