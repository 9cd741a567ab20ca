"""Driver for the original liteflow.core 0.3.1, run with the python of bench/.envs/original.

Uses only the original's public API (configure_workflow_host, register_workflow, start,
start_workflow(id, version, data), publish_event) plus its provider, reachable as
`host._persistence_service`, to learn when instances complete or subscribe. Its known defects
(re-queue busy loop, inverted sleep, subscriptions written after the lock) are measured as
they are; the parent process enforces a hard timeout on top of each workload's own deadline.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from driver_common import (
    CompletionCounter,
    Deadline,
    Metrics,
    Recorder,
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

from liteflow.core import (
    ExecutionResult,
    LocalLockProvider,
    LocalQueueProvider,
    MemoryPersistenceProvider,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowInstance,
    configure_workflow_host,
)

RECORDER = Recorder()
EVENT_NAME = "bench-event"
SLEEP_SECONDS = 0.1
FOREACH_ITEMS = [100]


class Hello(StepBody):
    # The seed's Hello returns None, which the original cannot handle ("'NoneType' object has
    # no attribute 'proceed'"), so every step here returns ExecutionResult.next() explicitly.
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class AddNumbers(StepBody):
    def __init__(self) -> None:
        self.input1 = 0
        self.input2 = 0
        self.output = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        self.output = self.input1 + self.input2
        return ExecutionResult.next()


class Goodbye(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class DoStuff(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class RecordArrival(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        RECORDER.record(context.workflow.data.key)
        return ExecutionResult.next()


class Nap(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if context.persistence_data is None:
            return ExecutionResult.sleep(
                timedelta(seconds=SLEEP_SECONDS), time.perf_counter() + SLEEP_SECONDS
            )
        RECORDER.record(context.workflow.data.key, time.perf_counter() - context.persistence_data)
        return ExecutionResult.next()


class MyData:
    def __init__(self, value1: int = 0, value2: int = 0) -> None:
        self.value1 = value1
        self.value2 = value2
        self.value3 = 0


class KeyData:
    def __init__(self, key: str) -> None:
        self.key = key


class ThreeStep(Workflow):
    def id(self) -> str:
        return "ThreeStep"

    def version(self) -> int:
        return 1

    def build(self, builder: Any) -> None:
        builder.start_with(Hello).then(AddNumbers).input("input1", lambda data, context: data.value1).input(
            "input2", lambda data, context: data.value2
        ).output("value3", lambda step: step.output).then(Goodbye)


class ForEach100(Workflow):
    def id(self) -> str:
        return "ForEach100"

    def version(self) -> int:
        return 1

    def build(self, builder: Any) -> None:
        builder.start_with(Hello).for_each(lambda data, context: list(range(FOREACH_ITEMS[0]))).do(
            lambda block: block.start_with(DoStuff)
        ).then(Goodbye)


class WaitForEvent(Workflow):
    def id(self) -> str:
        return "WaitForEvent"

    def version(self) -> int:
        return 1

    def build(self, builder: Any) -> None:
        builder.start_with(Hello).wait_for(EVENT_NAME, lambda data, context: data.key).then(RecordArrival)


class SleepOnce(Workflow):
    def id(self) -> str:
        return "SleepOnce"

    def version(self) -> int:
        return 1

    def build(self, builder: Any) -> None:
        builder.start_with(Nap).then(Goodbye)


def new_host() -> Any:
    """Fresh providers: the original's defaults are module-level singletons shared by hosts."""
    host = configure_workflow_host(MemoryPersistenceProvider(), LocalQueueProvider(), LocalLockProvider())
    for workflow in (ThreeStep(), ForEach100(), WaitForEvent(), SleepOnce()):
        host.register_workflow(workflow)
    host.start()
    return host


def on_persist(host: Any, callback: Any) -> None:
    persistence = host._persistence_service
    persist = persistence.persist_workflow

    def watched(workflow: Any) -> None:
        persist(workflow)
        callback(workflow)

    persistence.persist_workflow = watched


def start_and_finish(host: Any, spec: Spec, workflow_id: str, datas: list[Any]) -> tuple[Metrics, list[str]]:
    deadline = Deadline(spec["timeout"])
    counter = CompletionCounter(len(datas))

    def completed(workflow: Any) -> None:
        if workflow.status == WorkflowInstance.COMPLETE:
            counter.mark(workflow.id)

    on_persist(host, completed)
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
    return metrics, ids


def throughput(spec: Spec) -> Metrics:
    count = int(spec["count"])
    host = new_host()
    metrics, ids = start_and_finish(host, spec, "ThreeStep", [MyData(n, 2) for n in range(count)])
    sample = sorted({0, count - 1, *random.sample(range(count), min(50, count))})
    wrong = 0
    for n in sample:
        instance = host._persistence_service.get_workflow_instance(ids[n])
        if instance.status != WorkflowInstance.COMPLETE or instance.data.value3 != n + 2:
            wrong += 1
    metrics.update(verified=len(sample), wrong=wrong)
    return metrics


def foreach(spec: Spec) -> Metrics:
    FOREACH_ITEMS[0] = int(spec.get("items", 100))
    workflows = int(spec.get("workflows", 1))
    host = new_host()
    metrics, _ = start_and_finish(host, spec, "ForEach100", [MyData() for _ in range(workflows)])
    metrics.update(items=FOREACH_ITEMS[0], workflows=workflows)
    return metrics


def start_waiting(host: Any, keys: list[str], deadline: Deadline) -> None:
    subscriptions = host._persistence_service._subscriptions
    target = len(subscriptions) + len(keys)
    start_all(lambda key: host.start_workflow("WaitForEvent", 1, KeyData(key)), keys, deadline, "workflows")
    wait_until(lambda: len(subscriptions) >= target, deadline, f"{len(keys)} subscriptions")


def event(spec: Spec) -> Metrics:
    count = int(spec["count"])
    deadline = Deadline(spec["timeout"])
    keys = [f"key-{n}" for n in range(count)]
    host = new_host()
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
    host = new_host()
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

    def stored(workflow: Any) -> None:
        passes[0] += 1

    host = new_host()
    start_waiting(host, [f"idle-{n}" for n in range(count)], deadline)
    time.sleep(float(spec.get("settle", 1.0)))
    on_persist(host, stored)
    metrics = idle_cpu_percent(float(spec.get("window", 10.0)))
    metrics.update(waiting=count, persists_in_window=passes[0])
    return metrics


def memory(spec: Spec) -> Metrics:
    deadline = Deadline(spec["timeout"])
    host = new_host()
    return memory_per_waiting(
        lambda keys: start_waiting(host, keys, deadline), int(spec["count"]), int(spec.get("warm", 100))
    )


def describe() -> Metrics:
    from importlib.metadata import version

    return {"version": f"liteflow.core {version('liteflow.core')}"}


if __name__ == "__main__":
    run_driver(
        {
            "throughput": throughput,
            "foreach": foreach,
            "event": event,
            "sleep": sleep,
            "idle": idle,
            "memory": memory,
        },
        describe,
    )
