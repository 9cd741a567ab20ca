"""Checks a real run against the reference interpreter's expectation, and words the result.

Branches are not ordered against each other, so any interleaving of them passes, while each
branch's own order, and what comes before and after the branches, is checked exactly: every
entry must come after all of its predecessors, at most once, and only if expected.

A workflow that stops (`end_workflow`, TERMINATE, SUSPEND) inside one branch may have run any
part of the branches beside it: those entries may be missing, but none may come out of order,
and nothing after the stop may run. The run must end with the status of a stop whose
preceding entries all ran; a stop made by a failing step (`immediate`) ends the trace with that
step's entry. Without a stop, every expected entry must have run and the workflow completed.
The final data is compared whenever every expected entry ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from liteflow.core import WorkflowInstance

from .expectation import ActualRun, Expectation, status_name

__all__ = ["Problem", "compare", "describe", "signature"]


@dataclass(frozen=True)
class Problem:
    """One way a run differs: its `kind`, the entries it names, and the words for it."""

    kind: str
    entries: tuple[str, ...]
    text: str

    def __str__(self) -> str:
        return self.text


def compare(expected: Expectation, actual: ActualRun) -> list[Problem]:
    """Every way `actual` differs from `expected`; empty when it conforms."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for entry in actual.trace:
        if entry in seen:
            problems.append(Problem("twice", (entry,), f"{entry} ran twice"))
        elif entry not in expected.before:
            problems.append(Problem("unexpected", (entry,), f"{entry} ran, but should not have"))
        else:
            missing = tuple(sorted(expected.before[entry] - seen))
            if missing:
                problems.append(
                    Problem("early", (entry, *missing), f"{entry} ran before {', '.join(missing)}")
                )
        seen.add(entry)
    complete = seen >= expected.before.keys()
    if not expected.stops:
        not_run = tuple(entry for entry in expected.order if entry not in seen)
        if not_run:
            problems.append(Problem("missing", not_run, f"never ran: {', '.join(not_run)}"))
    if actual.unfinished is not None:
        problems.append(Problem("unfinished", (), actual.unfinished))
    elif not _status_explained(expected, actual, seen):
        problems.append(_status_problem(expected, actual, seen))
    if complete and not problems:
        data = {key: value for key, value in actual.data.items() if key != "trace"}
        wanted = {key: value for key, value in expected.data.items() if key != "trace"}
        if data != wanted:
            problems.append(
                Problem("data", (), f"final data differs:\n    expected {wanted}\n    actual   {data}")
            )
    return problems


def _status_problem(expected: Expectation, actual: ActualRun, seen: set[str]) -> Problem:
    ended = status_name(actual.status)
    early = [stop for stop in expected.stops if stop.status == actual.status]
    if not early:
        return Problem("status", (), f"ended {ended}, expected {' or '.join(expected.statuses)}")
    gaps: list[frozenset[str]] = [stop.after - seen for stop in early]
    missing = tuple(sorted(sorted(gaps, key=len)[0]))
    if missing:
        return Problem("stopped early", missing, f"ended {ended} before {', '.join(missing)} ran")
    return Problem(
        "stopped late", (), f"ended {ended}, but not at once: the failing step's entry is not the last"
    )


def _status_explained(expected: Expectation, actual: ActualRun, seen: set[str]) -> bool:
    if not expected.stops:
        return actual.status == WorkflowInstance.COMPLETE
    return any(
        stop.status == actual.status
        and stop.after <= seen
        and (not stop.immediate or (bool(actual.trace) and actual.trace[-1] in stop.after))
        for stop in expected.stops
    )


def signature(problems: list[Problem]) -> str:
    """What kind of divergence this is, so one engine bug found many times counts once: the
    kind of its first problem (the others mostly follow from it) and the kinds of step it
    names (the letters of their labels)."""
    if not problems:
        return ""
    first = problems[0]
    return f"{first.kind}({','.join(sorted({_step_kind(entry) for entry in first.entries}))})"


def _step_kind(entry: str) -> str:
    match = re.match(r"[a-z]+", entry)
    return match.group(0) if match else "?"


def describe(program_text: str, expected: Expectation, actual: ActualRun, problems: list[Problem]) -> str:
    """A divergence, readable: what differs, the program, and both traces."""
    lines = ["the engine diverged from the reference interpreter:"]
    lines += [f"  - {_shorten(str(problem))}" for problem in problems[:_SHOWN]]
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
