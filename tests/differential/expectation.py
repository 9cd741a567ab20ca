"""What the reference interpreter expects of a run, and the check of an actual run against it.

The expectation is a partial order, not one trace. Each entry (unique, see `tracing`) knows the
entries that must come before it: the one before it in its own sequence, or, after branches
that ran side by side (parallel for_each, parallel/join, several matching `when`s), the last
entries of every branch. Branches are not ordered against each other, so any interleaving of
them passes, while each branch's own order, and what comes before and after the branches, is
checked exactly.

A workflow that stops (`end_workflow`, TERMINATE, SUSPEND) inside one branch may have run any
part of the branches beside it: those entries may be missing, but none may come out of order,
and nothing after the stop may run. The run must end with the status of a stop whose
preceding entries all ran; a stop made by a failing step (`immediate`) ends the trace with that
step's entry. The final data is compared whenever every expected entry ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from liteflow.core import WorkflowInstance

__all__ = ["ActualRun", "Expectation", "ExpectationBuilder", "Stop", "compare", "describe", "status_name"]

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


def compare(expected: Expectation, actual: ActualRun) -> list[str]:
    """Every way `actual` differs from `expected`, in words; empty when it conforms."""
    problems: list[str] = []
    if actual.unfinished is not None:
        problems.append(actual.unfinished)
    seen: set[str] = set()
    for entry in actual.trace:
        if entry in seen:
            problems.append(f"{entry} ran twice")
        elif entry not in expected.before:
            problems.append(f"{entry} ran, but should not have")
        else:
            missing = sorted(expected.before[entry] - seen)
            if missing:
                problems.append(f"{entry} ran before {', '.join(missing)}")
        seen.add(entry)
    complete = seen >= expected.before.keys()
    if not expected.stops:
        not_run = [entry for entry in expected.order if entry not in seen]
        if not_run:
            problems.append(f"never ran: {', '.join(not_run)}")
    if actual.unfinished is None and not _status_explained(expected, actual, seen):
        problems.append(_status_problem(expected, actual, seen))
    if complete and not problems:
        data = {key: value for key, value in actual.data.items() if key != "trace"}
        wanted = {key: value for key, value in expected.data.items() if key != "trace"}
        if data != wanted:
            problems.append(f"final data differs:\n    expected {wanted}\n    actual   {data}")
    return problems


def _status_problem(expected: Expectation, actual: ActualRun, seen: set[str]) -> str:
    ended = status_name(actual.status)
    early = [stop for stop in expected.stops if stop.status == actual.status]
    if not early:
        return f"ended {ended}, expected {' or '.join(expected.statuses)}"
    missing = sorted(min((stop.after - seen for stop in early), key=len))
    if missing:
        return f"ended {ended} before {', '.join(missing)} ran"
    return f"ended {ended}, but not at once: the failing step's entry is not the last"


def _status_explained(expected: Expectation, actual: ActualRun, seen: set[str]) -> bool:
    if not expected.stops:
        return actual.status == WorkflowInstance.COMPLETE
    return any(
        stop.status == actual.status
        and stop.after <= seen
        and (not stop.immediate or (bool(actual.trace) and actual.trace[-1] in stop.after))
        for stop in expected.stops
    )


def describe(program_text: str, expected: Expectation, actual: ActualRun, problems: list[str]) -> str:
    """A divergence, readable: what differs, the program, and both traces."""
    lines = ["the engine diverged from the reference interpreter:"]
    lines += [f"  - {_shorten(problem)}" for problem in problems[:_SHOWN]]
    if len(problems) > _SHOWN:
        lines.append(f"  - and {len(problems) - _SHOWN} more")
    lines += ["program:", program_text]
    lines.append(f"expected ({' or '.join(expected.statuses)}), one valid order: {_entries(expected.order)}")
    lines.append(f"actual   ({status_name(actual.status)}): {_entries(actual.trace)}")
    return "\n".join(lines)


_SHOWN = 12


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _entries(trace: list[str], limit: int = 80) -> str:
    shown = " ".join(_shorten(entry, 40) for entry in trace[:limit])
    return shown + (f" ... ({len(trace)} entries)" if len(trace) > limit else "")
