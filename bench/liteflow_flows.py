"""The benchmark workflows on this project's API (the seed's steps, without printing).

Steps report timings to `RECORDER`, a process-wide object: the driver runs the host in the
same process, and a durable provider stores only the workflow data (the key), not the clock.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from liteflow.core import ExecutionResult, StepBody, StepExecutionContext, Workflow, WorkflowBuilder

from .peers.driver_common import Recorder

RECORDER = Recorder()
EVENT_NAME = "bench-event"
SLEEP_SECONDS = 0.1
#: The timed wait's timeout: long enough never to pass during a run, like an approval's.
WAIT_TIMEOUT = timedelta(days=2)


class Hello(StepBody):
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


class MyData:
    """The seed's workflow data class."""

    def __init__(self, value1: int = 0, value2: int = 0) -> None:
        self.value1 = value1
        self.value2 = value2
        self.value3 = 0


class KeyData:
    """Names the workflow for the recorder (and, for events, the key it waits on)."""

    def __init__(self, key: str = "") -> None:
        self.key = key


class ThreeStep(Workflow):
    """The seed's passing-data workflow: Hello, AddNumbers (two inputs, one output), Goodbye."""

    def id(self) -> str:
        return "ThreeStep"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).then(AddNumbers).input("input1", lambda data, context: data.value1).input(
            "input2", lambda data, context: data.value2
        ).output("value3", lambda step: step.output).then(Goodbye)


class DoStuff(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class ForEach100(Workflow):
    """Hello, a parallel foreach over `items` items running DoStuff, Goodbye."""

    items = 100

    def id(self) -> str:
        return "ForEach100"

    def build(self, builder: WorkflowBuilder) -> None:
        count = self.items
        builder.start_with(Hello).for_each(lambda data, context: list(range(count))).do(
            lambda block: block.start_with(DoStuff)
        ).then(Goodbye)


class RecordArrival(StepBody):
    """The step after the event (or the sleep): records when it ran."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        RECORDER.record(context.workflow.data.key)
        return ExecutionResult.next()


class WaitForEvent(Workflow):
    """Hello, wait for (bench-event, own key), then record the arrival."""

    def id(self) -> str:
        return "WaitForEvent"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).wait_for(EVENT_NAME, lambda data, context: data.key).then(RecordArrival)


class TimedWaitForEvent(Workflow):
    """WaitForEvent with a timeout on the wait: the event must wake it as fast (issue 12)."""

    def id(self) -> str:
        return "TimedWaitForEvent"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).wait_for(
            EVENT_NAME, lambda data, context: data.key, timeout=WAIT_TIMEOUT
        ).then(RecordArrival)


class Nap(StepBody):
    """Sleeps 100 ms once; the second run records how late it woke against the due time."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        due: Any = context.persistence_data
        if due is None:
            return ExecutionResult.sleep(
                timedelta(seconds=SLEEP_SECONDS), time.perf_counter() + SLEEP_SECONDS
            )
        RECORDER.record(context.workflow.data.key, time.perf_counter() - float(due))
        return ExecutionResult.next()


class SleepOnce(Workflow):
    def id(self) -> str:
        return "SleepOnce"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Nap).then(Goodbye)


ALL_WORKFLOWS: tuple[type[Workflow], ...] = (
    ThreeStep,
    ForEach100,
    WaitForEvent,
    TimedWaitForEvent,
    SleepOnce,
)
