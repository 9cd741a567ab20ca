"""Driver for the original liteflow.core 0.3.1, run with the python of bench/.envs/original.

Uses only the original's public API (configure_workflow_host, register_workflow, start,
start_workflow(id, version, data), publish_event) plus its provider, reachable as
`host._persistence_service`, to learn when instances complete or subscribe. Its known defects
(re-queue busy loop, inverted sleep, subscriptions written after the lock) are measured as
they are; the parent process enforces a hard timeout on top of each workload's own deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from driver_common import Deadline, HostWorkloads, Metrics, Recorder, Spec, run_driver, wait_until

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


class OriginalWorkloads(HostWorkloads):
    event_name = EVENT_NAME
    no_wait_timeout = "liteflow.core 0.3.1's wait_for takes no timeout"

    @contextmanager
    def running_host(self, spec: Spec) -> Iterator[Any]:
        """Fresh providers (the original's defaults are module-level singletons shared by hosts).
        Never stopped: its consumers do not stop; the driver exits hard instead."""
        host = configure_workflow_host(MemoryPersistenceProvider(), LocalQueueProvider(), LocalLockProvider())
        for workflow in (ThreeStep(), ForEach100(), WaitForEvent(), SleepOnce()):
            host.register_workflow(workflow)
        host.start()
        yield host

    def persistence(self, host: Any) -> Any:
        return host._persistence_service

    def three_step_data(self, n: int) -> MyData:
        return MyData(n, 2)

    def foreach_data(self, items: int, workflows: int) -> list[Any]:
        FOREACH_ITEMS[0] = items
        return [MyData() for _ in range(workflows)]

    def key_data(self, key: str) -> KeyData:
        return KeyData(key)

    def start_waiting(
        self, host: Any, keys: Sequence[str], deadline: Deadline, workflow_id: str = "WaitForEvent"
    ) -> None:
        subscriptions = host._persistence_service._subscriptions
        target = len(subscriptions) + len(keys)
        self.start_each(host, workflow_id, keys, deadline)
        wait_until(lambda: len(subscriptions) >= target, deadline, f"{len(keys)} subscriptions")


def describe() -> Metrics:
    from importlib.metadata import version

    return {"version": f"liteflow.core {version('liteflow.core')}"}


if __name__ == "__main__":
    run_driver(OriginalWorkloads(RECORDER, WorkflowInstance.COMPLETE).workloads(), describe)
