"""What the reference interpreter expects of a run, and what a real run did.

The expectation is a partial order, not one trace. Each entry (unique, see `tracing`) knows the
entries that must come before it: the one before it in its own sequence, or, after branches
that ran side by side (parallel for_each, parallel/join, several matching `when`s), the last
entries of every branch. Its stops say how the workflow may end (see `comparison`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from liteflow.core import WorkflowInstance

__all__ = ["ActualRun", "Expectation", "ExpectationBuilder", "Stop", "status_name"]

_STATUS_NAMES = {
    WorkflowInstance.RUNNABLE: "runnable",
    WorkflowInstance.SUSPENDED: "suspended",
    WorkflowInstance.COMPLETE: "complete",
    WorkflowInstance.TERMINATED: "terminated",
}


def status_name(status: int) -> str:
    return _STATUS_NAMES.get(status, str(status))


@dataclass(frozen=True)
class Stop:
    """The workflow ends with `status` once every entry in `after` ran."""

    status: int
    after: frozenset[str]
    immediate: bool


@dataclass
class Expectation:
    before: dict[str, frozenset[str]]
    order: list[str]
    stops: list[Stop]
    data: dict[str, Any]

    @property
    def statuses(self) -> list[str]:
        if not self.stops:
            return [status_name(WorkflowInstance.COMPLETE)]
        return sorted({status_name(stop.status) for stop in self.stops})


@dataclass
class ActualRun:
    status: int
    trace: list[str]
    data: dict[str, Any]
    #: Why the run was given up while still runnable (stalled, or running away), if it was.
    unfinished: str | None = None


@dataclass
class ExpectationBuilder:
    """Collects entries in the interpreter's order; `tails` are the entries the next one follows."""

    tails: frozenset[str] = frozenset()
    before: dict[str, frozenset[str]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)

    def add(self, entry: str) -> None:
        if entry in self.before:
            raise AssertionError(f"the interpreter produced {entry} twice: entries must be unique")
        self.before[entry] = self.tails
        self.order.append(entry)
        self.tails = frozenset({entry})

    def stop(self, status: int, immediate: bool) -> None:
        self.stops.append(Stop(status, self.tails, immediate))

    def build(self, data: dict[str, Any]) -> Expectation:
        return Expectation(dict(self.before), list(self.order), list(self.stops), data)
