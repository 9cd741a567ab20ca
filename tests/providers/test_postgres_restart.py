"""The PostgreSQL providers while the server goes away: a private server of the test's own
(the machine's shared one is never stopped), stopped or restarted under a running host."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from liteflow.core import ExecutionResult, StepBody, Workflow, WorkflowInstance, configure_workflow_host
from liteflow_postgres import PostgresLockProvider, PostgresPersistenceProvider, PostgresQueueProvider
from tests.private_postgres import private_postgres
from tests.support import lock_nodes, wait_until

__all__: list[str] = []

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def test_acquire_fails_fast_while_the_server_is_down_and_recovers_after() -> None:
    with private_postgres() as server, lock_nodes(PostgresLockProvider) as node:
        lock = node(dsn=server.url)
        assert lock.acquire_lock("w-1") is True
        server.stop()
        started = time.monotonic()
        assert lock.acquire_lock("w-2") is False
        assert time.monotonic() - started < 1.0
        assert not lock.holds_lock("w-1")
        server.start()
        wait_until(lambda: lock.acquire_lock("w-1"), 10, 0.1, "the lock to be granted again")


class Counted(StepBody):
    runs: dict[str, int] = {}
    guard = threading.Lock()

    def run(self, context: Any) -> ExecutionResult:
        with Counted.guard:
            key = f"{context.workflow.id}:{context.step.name}"
            Counted.runs[key] = Counted.runs.get(key, 0) + 1
        return ExecutionResult.next()


class RestartData:
    def __init__(self, index: int = 0) -> None:
        self.index = index
        self.payload: Any = None


class RestartWorkflow(Workflow):
    def id(self) -> str:
        return "PostgresRestart"

    def version(self) -> int:
        return 1

    def build(self, builder: Any) -> None:
        # Events published before the wait began count too (all are published after the start).
        builder.start_with(Counted).name("before").wait_for(
            "go", lambda data, context: str(data.index), EPOCH
        ).output("payload", lambda step: step.event_data).then(Counted).name("after")


def test_a_postgresql_restart_mid_run_loses_nothing() -> None:
    """Workflows started before, during and after a restart, with events published around it,
    all complete, and every step ran."""
    count = 60
    with private_postgres() as server:
        host = configure_workflow_host(
            PostgresPersistenceProvider(server.url),
            PostgresQueueProvider(server.url),
            PostgresLockProvider(server.url),
            poll_interval=timedelta(seconds=1),
            default_error_retry_interval=timedelta(milliseconds=200),
        )
        host.register_workflow(RestartWorkflow())
        host.start()
        try:
            ids: list[str] = []
            starter_failed: list[BaseException] = []

            def start_all() -> None:
                try:
                    for index in range(count):
                        ids.append(host.start_workflow("PostgresRestart", 1, RestartData(index)))
                        if index < count // 3:
                            host.publish_event("go", str(index), f"early-{index}")
                except BaseException as exc:
                    starter_failed.append(exc)

            starter = threading.Thread(target=start_all)
            starter.start()
            wait_until(lambda: len(ids) >= count // 4, 30, what="a quarter of the workflows to start")
            server.restart()
            starter.join(60)
            assert starter_failed == []
            for index in range(count // 3, count):
                host.publish_event("go", str(index), f"late-{index}")

            def all_complete() -> bool:
                return all(
                    host.get_workflow_instance(workflow_id).status == WorkflowInstance.COMPLETE
                    for workflow_id in ids
                )

            wait_until(all_complete, 60, 0.2, "every workflow to complete after the restart")
            payloads = [host.get_workflow_instance(workflow_id).data.payload for workflow_id in ids]
        finally:
            host.stop(timeout=10)
    assert payloads == [f"early-{n}" if n < count // 3 else f"late-{n}" for n in range(count)]
    never_ran = [
        (workflow_id, step)
        for workflow_id in ids
        for step in ("before", "after")
        if Counted.runs.get(f"{workflow_id}:{step}", 0) < 1
    ]
    assert never_ran == []
