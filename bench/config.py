"""Command-line options and the two presets (full and --quick)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .systems import DEFAULT_SYSTEMS, QUICK_SYSTEMS, REPO_ROOT, SYSTEMS

WORKLOADS = ("throughput", "foreach", "event", "timed-event", "sleep", "idle", "memory")

#: Host options tried for the throughput runs of this project when --host-options is not given.
TUNING_CANDIDATES: tuple[dict[str, Any], ...] = (
    {"max_concurrent_workflows": 1},
    {"max_concurrent_workflows": 2},
    {"max_concurrent_workflows": 4},
)


@dataclass
class Config:
    """Everything one invocation measures; the presets differ only in sizes and time limits."""

    quick: bool
    systems: list[str]
    workloads: list[str]
    counts: list[int]
    foreach_workflows: list[int]
    foreach_items: int
    events: int
    sleepers: int
    idle_workflows: int
    idle_window: float
    memory_workflows: int
    warm: int
    #: Seconds a population of waiting workflows is left to settle before measuring.
    settle: float
    #: Event workload: the longest wait for one event before the next is published.
    pace: float
    #: Pinned host options for this project's throughput runs; None = try TUNING_CANDIDATES.
    host_options: dict[str, Any] | None
    #: A throughput run estimated to take longer than this is skipped (and said so).
    run_budget: float
    #: Populations of waiting workflows are capped at what the system starts in this time.
    population_budget: float
    #: Each measurement's own deadline (throughput runs get at least twice the run budget).
    timeout: float
    install: bool
    chart: bool
    results_dir: Path = field(default_factory=lambda: REPO_ROOT / "bench" / "results")


def parse_ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def parse_names(text: str, known: tuple[str, ...] | list[str], what: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def parse_host_options(text: str) -> dict[str, Any]:
    """`k=v,k=v`, or `defaults` for the library's defaults (no tuning either way)."""
    options: dict[str, Any] = {}
    if text.strip() == "defaults":
        return options
    for part in text.split(","):
        if not part.strip():
            continue
        key, _, value = part.partition("=")
        try:
            options[key.strip()] = int(value)
        except ValueError:
            options[key.strip()] = float(value)
    return options


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="LiteFlow side by side with liteflow.core 0.3.1 and DBOS, in one run.",
    )
    p.add_argument("--quick", action="store_true", help="small counts, 1 s idle window: under a minute")
    p.add_argument(
        "--systems",
        help=f"comma list of {','.join(SYSTEMS)} (default: {','.join(DEFAULT_SYSTEMS)}; "
        f"quick: {','.join(QUICK_SYSTEMS)})",
    )
    p.add_argument("--workloads", help=f"comma list (default: {','.join(WORKLOADS)})")
    p.add_argument("--counts", help="throughput counts (full: 1000,10000,50000; quick: 50,2000)")
    p.add_argument("--foreach-workflows", help="foreach runs (full: 1,20; quick: 1)")
    p.add_argument("--foreach-items", type=int, help="items per foreach (default 100)")
    p.add_argument(
        "--events",
        type=int,
        help="event round trips = waiting workflows, with and without a wait timeout (full 1000)",
    )
    p.add_argument("--sleepers", type=int, help="workflows sleeping 100 ms (full 200)")
    p.add_argument("--idle-workflows", type=int, help="workflows waiting during the idle window (1000)")
    p.add_argument("--idle-window", type=float, help="idle CPU window in seconds (full 10, quick 1)")
    p.add_argument("--memory-workflows", type=int, help="waiting workflows for memory/workflow (10000)")
    p.add_argument(
        "--host-options",
        help="pin this project's host options instead of trying several: "
        "e.g. max_concurrent_workflows=2, or 'defaults'",
    )
    p.add_argument("--no-install", action="store_true", help="skip peers whose virtualenv is missing")
    p.add_argument("--no-chart", action="store_true", help="do not draw results/throughput.png")
    return p


def from_args(argv: list[str] | None = None) -> Config:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    quick = bool(args.quick)
    try:
        default = QUICK_SYSTEMS if quick else DEFAULT_SYSTEMS
        systems = parse_names(args.systems, list(SYSTEMS), "system") if args.systems else list(default)
        workloads = parse_names(args.workloads, WORKLOADS, "workload") if args.workloads else list(WORKLOADS)
    except argparse.ArgumentTypeError as exc:
        parser().error(str(exc))
    return Config(
        quick=quick,
        systems=systems,
        workloads=workloads,
        counts=sorted(parse_ints(args.counts))
        if args.counts
        else ([50, 2000] if quick else [1000, 10000, 50000]),
        foreach_workflows=parse_ints(args.foreach_workflows)
        if args.foreach_workflows
        else ([1] if quick else [1, 20]),
        foreach_items=args.foreach_items or 100,
        events=args.events or (100 if quick else 1000),
        sleepers=args.sleepers or (50 if quick else 200),
        idle_workflows=args.idle_workflows or (200 if quick else 1000),
        idle_window=args.idle_window or (1.0 if quick else 10.0),
        memory_workflows=args.memory_workflows or (1000 if quick else 10000),
        warm=5 if quick else 100,
        settle=0.3 if quick else 1.0,
        pace=0.02,
        host_options=parse_host_options(args.host_options) if args.host_options else None,
        run_budget=3.0 if quick else 120.0,
        population_budget=1.0 if quick else 12.0,
        timeout=4.0 if quick else 75.0,
        install=not args.no_install,
        chart=not args.no_chart,
    )


def python_for_commands() -> str:
    """The interpreter as a user would type it from the repo root."""
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    if Path(sys.executable).absolute() == venv_python.absolute():
        return ".venv/bin/python"
    return sys.executable
