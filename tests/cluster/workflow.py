"""The workflows the cluster and crash tests (and the cluster benchmark) run, and the journal
their steps write.

Module-level classes, so that a durable store can load the data in any process. Each step
appends one line per execution to this process's journal; the tests count executions there,
because a killed process cannot be asked what it did.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, NamedTuple

from liteflow.core import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    register_type,
)

__all__ = [
    "EVENT_NAME",
    "ClusterData",
    "ClusterWorkflow",
    "Execution",
    "Journal",
    "THREE_STEP_LABELS",
    "ThreeStepData",
    "ThreeStepWorkflow",
    "event_key",
    "event_payload",
    "expected_labels",
    "expected_result",
    "items_for",
    "new_data",
    "open_journal",
    "read_journals",
    "three_step_data",
]

EVENT_NAME = "cluster-go"
ITEMS = 3
#: Long enough that a sleeping workflow is stored SLEEPING and woken by a timer, short enough
#: to keep the suite fast.
NAP = timedelta(milliseconds=300)
#: The waits' as-of time: an event published before its instance reached the wait still counts
#: (by default a wait only receives events published after it began), so tests may publish at
#: any moment. Keys are unique per instance, so no other event can match.
SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)


@register_type  # the harness reads instances without registering the workflow
@dataclass
class ClusterData:
    index: int = 0
    items: list[int] = field(default_factory=list)
    total: int = 0
    payload: int | None = None
    napped: bool = False
    laps: int = 0
    rounds: int = 0
    result: int | None = None


def items_for(index: int) -> list[int]:
    return [index + 1000 * k for k in range(ITEMS)]


def event_key(index: int) -> str:
    return f"instance-{index}"


def event_payload(index: int) -> int:
    return 7 * index + 1


def new_data(index: int, laps: int) -> ClusterData:
    """Instance `index`, whose loop runs `laps` times (each lap costs a few store round trips)."""
    return ClusterData(index=index, items=items_for(index), laps=laps)


def expected_result(index: int) -> int:
    return sum(items_for(index)) + event_payload(index)


def expected_labels(index: int, laps: int) -> set[str]:
    """One label per step execution a completed instance must have had."""
    return {
        "begin",
        *(f"add:{item}" for item in items_for(index)),
        "nap:sleep",
        "nap:wake",
        *(f"lap:{lap}" for lap in range(laps)),
        "finish",
    }


class Execution(NamedTuple):
    workflow_id: str
    pointer_id: str
    label: str
    pid: int


class Journal:
    """Append-only, one flushed line per execution: a SIGKILL loses at most the line being written."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def record(self, context: StepExecutionContext, label: str) -> None:
        line = f"{context.workflow.id}\t{context.execution_pointer.id}\t{label}\t{self._pid}\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


_journal: Journal | None = None


def open_journal(directory: Path) -> Path:
    """Make this process's steps record into ``journal-<pid>.log`` under `directory`."""
    global _journal
    path = directory / f"journal-{os.getpid()}.log"
    _journal = Journal(path.open("a", encoding="utf-8"))
    return path


def read_journals(directory: Path) -> list[Execution]:
    """Every complete line of every journal in `directory` (a torn last line is skipped)."""
    executions: list[Execution] = []
    for path in sorted(directory.glob("journal-*.log")):
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.endswith("\n"):
                workflow_id, pointer_id, label, pid = line.rstrip("\n").split("\t")
                executions.append(Execution(workflow_id, pointer_id, label, int(pid)))
    return executions


def _record(context: StepExecutionContext, label: str) -> None:
    if _journal is None:
        raise RuntimeError("no journal: call open_journal() before the host runs ClusterWorkflow")
    _journal.record(context, label)


def _data(context: StepExecutionContext) -> ClusterData:
    data = context.workflow.data
    assert isinstance(data, ClusterData)
    return data


class Begin(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        _record(context, "begin")
        return ExecutionResult.next()


class AddItem(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        _record(context, f"add:{context.item}")
        _data(context).total += context.item
        return ExecutionResult.next()


class Nap(StepBody):
    """Sleeps once, then proceeds: the second run sees the persistence data of the first."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if context.persistence_data is None:
            _record(context, "nap:sleep")
            return ExecutionResult.sleep(NAP, {"slept": True})
        _record(context, "nap:wake")
        _data(context).napped = True
        return ExecutionResult.next()


class Lap(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = _data(context)
        _record(context, f"lap:{data.rounds}")
        data.rounds += 1
        return ExecutionResult.next()


class Finish(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = _data(context)
        _record(context, "finish")
        data.result = data.total + (data.payload or 0)
        return ExecutionResult.next()


class ClusterWorkflow(Workflow):
    """A foreach, an event wait keyed per instance, a sleep and a loop."""

    def id(self) -> str:
        return "ClusterWorkflow"

    def version(self) -> int:
        return 1

    def build(self, builder: WorkflowBuilder) -> None:
        summed = builder.start_with(Begin).for_each(lambda data, context: data.items)
        summed = summed.do(lambda each: each.start_with(AddItem))
        woken = summed.wait_for(
            EVENT_NAME, lambda data, context: event_key(data.index), lambda data, context: SINCE
        )
        looped = woken.output("payload", lambda step: step.event_data).then(Nap)
        looped = looped.while_(lambda data, context: data.rounds < data.laps)
        looped.do(lambda loop: loop.start_with(Lap)).then(Finish)


@register_type  # bench.cluster reads instances without registering the workflow
@dataclass
class ThreeStepData:
    """bench's `MyData` plus the instance's index, so a stored sum can be checked against its inputs."""

    index: int = 0
    value1: int = 0
    value2: int = 0
    value3: int = 0
    #: How long AddNumbers waits, standing for a call to another service (I/O, not CPU).
    wait_ms: int = 0


#: One journal line per step of a `ThreeStepWorkflow`; "goodbye", the last, marks it done.
THREE_STEP_LABELS = ("hello", "add", "goodbye")


def three_step_data(index: int, wait_ms: int = 0) -> ThreeStepData:
    return ThreeStepData(index=index, value1=index, value2=3 * index + 1, wait_ms=wait_ms)


class Hello(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        _record(context, "hello")
        return ExecutionResult.next()


class AddNumbers(StepBody):
    def __init__(self) -> None:
        self.input1 = 0
        self.input2 = 0
        self.output = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        _record(context, "add")
        data = context.workflow.data
        if isinstance(data, ThreeStepData) and data.wait_ms:
            time.sleep(data.wait_ms / 1000)
        self.output = self.input1 + self.input2
        return ExecutionResult.next()


class Goodbye(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        _record(context, "goodbye")
        return ExecutionResult.next()


class ThreeStepWorkflow(Workflow):
    """bench's `ThreeStep` (Hello, AddNumbers with two inputs and one output, Goodbye) with
    journalled steps: the cluster benchmark counts completions and step runs in the journals."""

    def id(self) -> str:
        return "ClusterThreeStep"

    def version(self) -> int:
        return 1

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).then(AddNumbers).input("input1", lambda data, context: data.value1).input(
            "input2", lambda data, context: data.value2
        ).output("value3", lambda step: step.output).then(Goodbye)
