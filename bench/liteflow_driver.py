"""Driver for this project: one measurement per process, `python -m bench.liteflow_driver SPEC`.

A fresh process per measurement keeps runs independent (no threads, caches or RSS left over
from the previous host) and mirrors how the peers are driven.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from liteflow.core import PersistenceProvider, WorkflowHost, WorkflowInstance, configure_workflow_host
from liteflow.core.changes import WorkflowChanges

from .liteflow_flows import ALL_WORKFLOWS, EVENT_NAME, RECORDER, ForEach100, KeyData, MyData
from .peers.driver_common import Deadline, HostWorkloads, Metrics, Spec, run_driver, wait_until
from .systems import SYSTEMS

FAR_FUTURE = datetime(9000, 1, 1, tzinfo=timezone.utc)


class LiteFlowWorkloads(HostWorkloads):
    event_name = EVENT_NAME
    #: One atomic write per pass; persist_workflow is only a shorthand for it.
    write_method = "persist_changes"

    @contextmanager
    def running_host(self, spec: Spec) -> Iterator[WorkflowHost]:
        """A started host on the spec's system with the spec's options; stopped and cleaned after."""
        system = SYSTEMS[spec["system"]]
        assert system.providers is not None, f"{system.name} is not one of this project's systems"
        providers, cleanup = system.providers(Path(spec["workdir"]))
        host = configure_workflow_host(**providers, **spec.get("options", {}))
        for workflow in ALL_WORKFLOWS:
            host.register_workflow(workflow())
        host.start()
        try:
            yield host
        finally:
            host.stop(timeout=5)
            cleanup()

    def persistence(self, host: WorkflowHost) -> PersistenceProvider:
        return host.persistence_service

    def written_workflow(self, written: WorkflowChanges) -> WorkflowInstance:
        return written.workflow

    def three_step_data(self, n: int) -> MyData:
        return MyData(n, 2)

    def foreach_data(self, items: int, workflows: int) -> list[Any]:
        ForEach100.items = items
        return [None] * workflows

    def key_data(self, key: str) -> KeyData:
        return KeyData(key)

    def start_waiting(
        self, host: WorkflowHost, keys: Sequence[str], deadline: Deadline, workflow_id: str = "WaitForEvent"
    ) -> None:
        self.start_each(host, workflow_id, keys, deadline)

        def subscribed(key: str) -> Callable[[], bool]:
            return lambda: bool(host.persistence_service.get_subscriptions(EVENT_NAME, key, FAR_FUTURE))

        for key in keys:
            wait_until(subscribed(key), deadline, f"the subscription of {key}", interval=0.005)


def describe() -> Metrics:
    from importlib.metadata import version

    try:
        return {"version": f"liteflow {version('liteflow')}"}
    except Exception:
        return {"version": "liteflow (checkout)"}


if __name__ == "__main__":
    run_driver(LiteFlowWorkloads(RECORDER, WorkflowInstance.COMPLETE).workloads(), describe)
