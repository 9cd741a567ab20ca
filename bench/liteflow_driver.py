"""Driver for this project: one measurement per process, `python -m bench.liteflow_driver SPEC`.

A fresh process per measurement keeps runs independent (no threads, caches or RSS left over
from the previous host) and mirrors how the peers are driven.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from liteflow.core import WorkflowHost, WorkflowInstance, configure_workflow_host

from .liteflow_flows import ALL_WORKFLOWS, EVENT_NAME, RECORDER, ForEach100, KeyData, MyData
from .peers.driver_common import (
    CompletionCounter,
    Deadline,
    Metrics,
    Spec,
    WorkloadTimeoutError,
    event_round_trips,
    idle_cpu_percent,
    latency_summary,
    memory_per_waiting,
    run_driver,
    start_all,
    throughput_metrics,
    wait_until,
)
from .systems import SYSTEMS

FAR_FUTURE = datetime(9000, 1, 1, tzinfo=timezone.utc)


@contextmanager
def running_host(spec: Spec) -> Iterator[WorkflowHost]:
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


def on_persist(host: WorkflowHost, callback: Callable[[WorkflowInstance], None]) -> None:
    """Call `callback` after every stored instance: the only engine-neutral completion signal."""
    persistence = host.persistence_service
    persist = persistence.persist_workflow

    def watched(workflow: WorkflowInstance, *args: Any, **kwargs: Any) -> None:
        persist(workflow, *args, **kwargs)
        callback(workflow)

    persistence.persist_workflow = watched  # type: ignore[method-assign]


def watch_completions(host: WorkflowHost, expected: int) -> CompletionCounter:
    counter = CompletionCounter(expected)

    def completed(workflow: WorkflowInstance) -> None:
        if workflow.status == WorkflowInstance.COMPLETE:
            counter.mark(workflow.id)

    on_persist(host, completed)
    return counter


def start_and_finish(host: WorkflowHost, spec: Spec, workflow_id: str, datas: Sequence[Any]) -> Metrics:
    """Start one instance per data object, wait until all are complete; time first start to last."""
    deadline = Deadline(spec["timeout"])
    counter = watch_completions(host, len(datas))
    started = time.perf_counter()
    ids = start_all(lambda data: host.start_workflow(workflow_id, 1, data), datas, deadline, "workflows")
    all_started = time.perf_counter()
    if not counter.done.wait(max(0.0, deadline.left())):
        partial = throughput_metrics(len(datas), counter.count, started, None)
        raise WorkloadTimeoutError(
            f"{counter.count} of {len(datas)} complete after {deadline.seconds:.0f} s", partial
        )
    metrics = throughput_metrics(len(datas), counter.count, started, counter.finished_at)
    metrics["start_seconds"] = all_started - started
    metrics["ids"] = ids
    return metrics


def throughput(spec: Spec) -> Metrics:
    count = int(spec["count"])
    with running_host(spec) as host:
        metrics = start_and_finish(host, spec, "ThreeStep", [MyData(n, 2) for n in range(count)])
        ids: list[str] = metrics.pop("ids")
        sample = sorted({0, count - 1, *random.sample(range(count), min(50, count))})
        wrong = 0
        for n in sample:
            instance = host.get_workflow_instance(ids[n])
            if instance.status != WorkflowInstance.COMPLETE or instance.data.value3 != n + 2:
                wrong += 1
        metrics.update(verified=len(sample), wrong=wrong)
        return metrics


def foreach(spec: Spec) -> Metrics:
    ForEach100.items = int(spec.get("items", 100))
    workflows = int(spec.get("workflows", 1))
    with running_host(spec) as host:
        metrics = start_and_finish(host, spec, "ForEach100", [None] * workflows)
        metrics.pop("ids")
        metrics.update(items=ForEach100.items, workflows=workflows)
        return metrics


def start_waiting(host: WorkflowHost, keys: Sequence[str], deadline: Deadline) -> None:
    """Start one WaitForEvent per key and return once every one has its subscription stored."""
    start_all(lambda key: host.start_workflow("WaitForEvent", 1, KeyData(key)), keys, deadline, "workflows")

    def subscribed(key: str) -> Callable[[], bool]:
        return lambda: bool(host.persistence_service.get_subscriptions(EVENT_NAME, key, FAR_FUTURE))

    for key in keys:
        wait_until(subscribed(key), deadline, f"the subscription of {key}", interval=0.005)


def event(spec: Spec) -> Metrics:
    count = int(spec["count"])
    deadline = Deadline(spec["timeout"])
    keys = [f"key-{n}" for n in range(count)]
    with running_host(spec) as host:
        start_waiting(host, keys, deadline)
        time.sleep(float(spec.get("settle", 1.0)))  # let the last passes finish and release their locks
        return event_round_trips(
            lambda key: host.publish_event(EVENT_NAME, key, "payload"),
            keys,
            RECORDER,
            deadline,
            float(spec.get("pace", 0.02)),
        )


def sleep(spec: Spec) -> Metrics:
    count = int(spec["count"])
    deadline = Deadline(spec["timeout"])
    with running_host(spec) as host:
        keys = [f"sleep-{n}" for n in range(count)]
        start_all(lambda key: host.start_workflow("SleepOnce", 1, KeyData(key)), keys, deadline, "sleepers")
        try:
            wait_until(lambda: len(RECORDER.times) >= count, deadline, f"{count} wake-ups")
        except WorkloadTimeoutError as exc:
            exc.partial = {**latency_summary(list(RECORDER.times.values())), "workflows": count}
            raise
        lateness = list(RECORDER.times.values())
        return {**latency_summary(lateness), "workflows": count, "early": sum(1 for v in lateness if v < 0)}


def idle(spec: Spec) -> Metrics:
    count = int(spec["count"])
    deadline = Deadline(spec["timeout"])
    passes = [0]

    def stored(workflow: WorkflowInstance) -> None:
        passes[0] += 1

    with running_host(spec) as host:
        start_waiting(host, [f"idle-{n}" for n in range(count)], deadline)
        time.sleep(float(spec.get("settle", 1.0)))
        on_persist(host, stored)
        metrics = idle_cpu_percent(float(spec.get("window", 10.0)))
        metrics.update(waiting=count, persists_in_window=passes[0])
        return metrics


def memory(spec: Spec) -> Metrics:
    deadline = Deadline(spec["timeout"])
    with running_host(spec) as host:
        return memory_per_waiting(
            lambda keys: start_waiting(host, keys, deadline), int(spec["count"]), int(spec.get("warm", 100))
        )


def describe() -> Metrics:
    from importlib.metadata import version

    try:
        return {"version": f"liteflow {version('liteflow')}"}
    except Exception:
        return {"version": "liteflow (checkout)"}


WORKLOADS = {
    "throughput": throughput,
    "foreach": foreach,
    "event": event,
    "sleep": sleep,
    "idle": idle,
    "memory": memory,
}

if __name__ == "__main__":
    run_driver(WORKLOADS, describe)
