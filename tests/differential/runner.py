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


def run_on_host(host: WorkflowHost, program: Program, timeout: float = 10.0) -> ActualRun:
    """Register and start `program`, publish each event once a step waits for it, and return
    the run once it is no longer runnable (or `timeout` seconds passed: a stall)."""
    workflow = CompiledWorkflow(program, f"differential-{next(_numbers)}")
    host.register_workflow(workflow)
    workflow_id = host.start_workflow(workflow.id(), workflow.version(), tracing.new_data())
    published: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        instance = host.get_workflow_instance(workflow_id)
        if instance.status != WorkflowInstance.RUNNABLE:
            return _actual(instance)
        for pointer in instance.execution_pointers:
            if _waiting(pointer) and pointer.id not in published:
                published.add(pointer.id)
                name, key = pointer.event_name or "", pointer.event_key or ""
                host.publish_event(name, key, tracing.event_payload(name, key))
        if time.monotonic() > deadline:
            return _actual(instance, stalled_after=timeout)
        time.sleep(0.002)


def _waiting(pointer: ExecutionPointer) -> bool:
    return (
        pointer.status == ExecutionPointer.WAITING
        and pointer.event_name is not None
        and not pointer.event_published
        and pointer.end_time is None
    )


def _actual(instance: WorkflowInstance, stalled_after: float | None = None) -> ActualRun:
    data = instance.data if isinstance(instance.data, dict) else {}
    return ActualRun(instance.status, list(data.get("trace", [])), data, stalled_after)
