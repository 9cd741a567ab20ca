"""`python -m bench.long_workflows`: does a step cost the same at the end of a long workflow as
at its start (issue 21)?

One workflow at a time, on a default host, steps that do nothing:

- `while`: a `while_` loop of N iterations (one step each) on SQLite
- `foreach`: a sequential `for_each` over N items (one step each) on SQLite
- `foreach-size`: a sequential `for_each` over M items on SQLite; the stored instance's row
  (data and pointers) after 100 items and at the end
- `recur`: `recur` every 10 ms for T ticks on the memory providers; how late each tick is

Each iteration's step records the time it ran; the cost of an iteration is the time since the
one before it. The report compares the mean cost of the first 10% of iterations with the last
10% (the issue's target: at most 1.5x), and the whole run (target: under 10 s for 10,000
iterations). Nothing is asserted; each line says PASS or MISS against its target.
"""

from __future__ import annotations

import argparse
import itertools
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from liteflow.core import (
    SqlitePersistenceProvider,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowHost,
    configure_workflow_host,
)

from .report import announce, format_table

#: Times (perf_counter) at which the measured step ran, in order.
STAMPS: list[float] = []
#: The stored row's size (data + pointers, bytes) when the size probe ran, by item index.
SIZES: dict[int, int] = {}
DATABASE: list[Path] = []


def stamp(context: StepExecutionContext) -> None:
    STAMPS.append(time.perf_counter())


def probe_size(context: StepExecutionContext) -> None:
    """At item 100 and at the last item: how big the stored row is (as of the last pass)."""
    item = context.item
    if item in (100, context.workflow.data["items"] - 1):
        with sqlite3.connect(DATABASE[0]) as raw:
            (size,) = raw.execute(
                "SELECT length(data) + length(execution_pointers) FROM workflows WHERE id = ?",
                (context.workflow.id,),
            ).fetchone()
        SIZES[item] = int(size)


class WhileLoop(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp).while_(lambda data, context: len(STAMPS) <= data["items"]).do(
            lambda loop: loop.start_with(stamp)
        )


class SequentialForeach(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp).for_each(lambda data, context: range(data["items"]), run_parallel=False).do(
            lambda each: each.start_with(stamp)
        )


class SizedForeach(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp).for_each(lambda data, context: range(data["items"]), run_parallel=False).do(
            lambda each: each.start_with(probe_size)
        )


class Recurring(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp).recur(
            lambda data, context: timedelta(milliseconds=10),
            lambda data, context: len(STAMPS) > data["items"],
        ).do(lambda block: block.start_with(stamp))


def _run(host: WorkflowHost, workflow: Workflow, items: int, timeout: float) -> float:
    STAMPS.clear()
    host.register_workflow(workflow)
    started = time.perf_counter()
    workflow_id = host.start_workflow(workflow.id(), data={"items": items})
    host.wait_for_workflow(workflow_id, timeout=timeout)
    return time.perf_counter() - started


def _growth(stamps: list[float]) -> tuple[float, float]:
    """Mean cost (ms) of the first and of the last 10% of iterations."""
    costs = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    tenth = max(1, len(costs) // 10)
    return statistics.fmean(costs[:tenth]) * 1000, statistics.fmean(costs[-tenth:]) * 1000


def _sqlite_host(folder: Path) -> WorkflowHost:
    DATABASE[:] = [folder / "long.db"]
    return configure_workflow_host(SqlitePersistenceProvider(DATABASE[0]))


def measure(kind: str, items: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="liteflow-long-") as folder:
        host = configure_workflow_host() if kind == "recur" else _sqlite_host(Path(folder))
        host.start()
        try:
            workflow: Workflow = {
                "while": WhileLoop,
                "foreach": SequentialForeach,
                "foreach-size": SizedForeach,
                "recur": Recurring,
            }[kind]()
            seconds = _run(host, workflow, items, timeout)
        finally:
            host.stop()
    result: dict[str, Any] = {"kind": kind, "items": items, "seconds": round(seconds, 2)}
    if kind == "recur":
        # the first stamp is the step before the recurrence; each tick is due 10 ms after the last
        lateness = [(later - earlier - 0.010) * 1000 for earlier, later in itertools.pairwise(STAMPS[1:])]
        tenth = max(1, len(lateness) // 10)
        first, last = sorted(lateness[:tenth]), sorted(lateness[-tenth:])
        result["p99 late first/last 10%, ms"] = f"{first[int(0.99 * (len(first) - 1))]:.1f} / " + (
            f"{last[int(0.99 * (len(last) - 1))]:.1f}"
        )
        result["target"] = "PASS" if last[int(0.99 * (len(last) - 1))] < 20 else "MISS"
    elif kind == "foreach-size":
        after_100, at_end = SIZES.get(100, 0), SIZES.get(items - 1, 0)
        result["row bytes at 100 / end"] = f"{after_100:,} / {at_end:,}"
        result["target"] = "PASS" if at_end <= 2 * after_100 else "MISS"
    else:
        first, last = _growth(STAMPS)
        result["ms per iteration, first/last 10%"] = f"{first:.3f} / {last:.3f}"
        result["target"] = "PASS" if last <= 1.5 * first and (items < 10_000 or seconds < 10) else "MISS"
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.long_workflows", description=__doc__)
    parser.add_argument("--iterations", type=int, default=10_000, help="while and foreach (default 10,000)")
    parser.add_argument(
        "--big-foreach", type=int, default=100_000, help="foreach-size items (default 100,000)"
    )
    parser.add_argument("--ticks", type=int, default=5_000, help="recur ticks (default 5,000)")
    parser.add_argument("--kinds", default="while,foreach,foreach-size,recur")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    announce("long workflows", "bench.long_workflows", list(sys.argv[1:] if argv is None else argv))
    sizes: dict[str, int] = {
        "while": args.iterations,
        "foreach": args.iterations,
        "foreach-size": args.big_foreach,
        "recur": args.ticks,
    }
    rows: list[dict[str, Any]] = []
    for kind in args.kinds.split(","):
        print(f"  {kind} over {sizes[kind]:,} ...", flush=True)
        rows.append(measure(kind, sizes[kind], args.timeout))
        print(f"    {rows[-1]}", flush=True)
    header = list(dict.fromkeys(name for row in rows for name in row))
    print(format_table(header, [[str(row.get(name, "")) for name in header] for row in rows]))


if __name__ == "__main__":
    main()
