"""Stopping a host while async steps await: it waits for them, then cancels what is left."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from liteflow.core import (
    ExecutionPointer,
    PersistenceProvider,
    SqlitePersistenceProvider,
    StepExecutionContext,
    WorkflowInstance,
)
from tests.async_support import Chain
from tests.support import Scenario, running_host


def test_stop_waits_for_async_steps_that_finish_in_time(local_persistence: PersistenceProvider) -> None:
    started = threading.Event()

    async def remote_call(context: StepExecutionContext) -> None:
        started.set()
        await asyncio.sleep(0.3)
        context.workflow.data["answered"] = True

    with running_host(local_persistence) as host:
        workflow_id = Scenario(host).run(Chain(remote_call), {})
        assert started.wait(5)
        began = time.monotonic()
        host.stop(timeout=5)
        took = time.monotonic() - began
    instance = local_persistence.get_workflow_instance(workflow_id)
    assert instance is not None
    assert instance.status == WorkflowInstance.COMPLETE and instance.data == {"answered": True}
    assert 0.2 < took < 2


def test_stop_cancels_async_steps_past_its_timeout_and_they_run_again_after_a_restart(tmp_path: Path) -> None:
    attempts: list[str] = []
    started = threading.Event()

    async def remote_call(context: StepExecutionContext) -> None:
        attempts.append("started")
        started.set()
        try:
            await asyncio.sleep(0 if len(attempts) > 1 else 30)
        except asyncio.CancelledError:
            attempts.append("cancelled")
            raise
        attempts.append("finished")

    workflow = Chain(remote_call)
    database = tmp_path / "liteflow.db"
    with running_host(SqlitePersistenceProvider(database)) as host:
        workflow_id = Scenario(host).run(workflow, {})
        assert started.wait(5)
        began = time.monotonic()
        host.stop(timeout=0.3)
        took = time.monotonic() - began
    assert attempts == ["started", "cancelled"]
    assert 0.25 < took < 3
    store = SqlitePersistenceProvider(database)
    stored = store.get_workflow_instance(workflow_id)
    assert stored is not None and stored.status == WorkflowInstance.RUNNABLE
    assert stored.execution_pointers[0].status != ExecutionPointer.COMPLETE
    # Registered before it starts: its poller finds the instance at once.
    with running_host(store, lambda restarted: restarted.register_workflow(workflow)) as restarted:
        Scenario(restarted).wait_for_completion(workflow_id)
    assert attempts == ["started", "cancelled", "started", "finished"]


def test_a_host_whose_async_steps_were_cancelled_starts_again_and_runs_them(
    local_persistence: PersistenceProvider,
) -> None:
    entered = threading.Event()

    async def slow_the_first_time(context: StepExecutionContext) -> None:
        first = not entered.is_set()
        entered.set()
        await asyncio.sleep(30 if first else 0)

    async def quick(context: StepExecutionContext) -> None:
        await asyncio.sleep(0)

    with running_host(local_persistence) as host:
        scenario = Scenario(host)
        cancelled = scenario.run(Chain(slow_the_first_time), {})
        assert entered.wait(5)
        host.stop(timeout=0.1)
        host.start()
        scenario.wait_for_completion(scenario.run(Chain(quick), {}))
        scenario.wait_for_completion(cancelled)


@pytest.mark.parametrize("call", ["stop", "suspend_workflow"])
def test_blocking_host_calls_inside_an_async_step_are_refused(scenario: Scenario, call: str) -> None:
    refused: list[str] = []

    async def calls_the_host(context: StepExecutionContext) -> None:
        assert context.host is not None
        method = getattr(context.host, call)
        try:
            method(context.workflow.id) if call != "stop" else method()
        except Exception as exc:
            refused.append(f"{type(exc).__name__}: {exc}")

    scenario.wait_for_completion(scenario.run(Chain(calls_the_host), {}))
    assert len(refused) == 1
    assert f"{call}() would block the host's event loop" in refused[0]
    assert scenario.host.is_running
