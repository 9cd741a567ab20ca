"""`python -m bench`: every workload on every available system, then the tables and files.

Run from the repository root with the project's interpreter (.venv/bin/python). Peers are
installed into bench/.envs on first use; results go to bench/results/ (both git-ignored).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .config import Config, from_args
from .envs import EnvSpec, EnvUnavailableError, ensure_env
from .report import announce, machine, render, write_json
from .runner import Measurement
from .systems import SYSTEMS
from .workloads import TITLES, Plan

PLOT_ENV = EnvSpec("plot", ("matplotlib",))


def _figures(workload: str, m: dict[str, Any]) -> str:
    if workload == "throughput":
        return (
            f"{m.get('per_second', 0):,.0f} workflows/s ({m.get('completed')} in {m.get('seconds', 0):.2f} s)"
        )
    if workload == "foreach":
        return f"{m.get('seconds', 0):.3f} s"
    if workload in ("event", "timed-event"):
        return f"median {m.get('median_ms', 0):.2f} ms, p99 {m.get('p99_ms', 0):.2f} ms over {m.get('n')}"
    if workload == "sleep":
        return f"late by median {m.get('median_ms', 0):.1f} ms, p99 {m.get('p99_ms', 0):.1f} ms"
    if workload == "idle":
        return f"{m.get('cpu_percent', 0):.2f}% of a core"
    return f"{m.get('bytes_per_workflow', 0) / 1024:.1f} KiB per waiting workflow"


def summary(measurement: Measurement) -> str:
    """One line per measurement, printed as soon as it finishes."""
    if measurement.status == "skipped":
        return f"      skipped: {measurement.note}"
    has_numbers = measurement.metrics and measurement.status in ("ok", "timed out")
    body = _figures(measurement.workload, measurement.metrics) if has_numbers else ""
    status = "" if measurement.status == "ok" else f" [{measurement.status}: {measurement.error}]"
    note = f" ({measurement.note})" if measurement.note else ""
    return f"      -> {body}{status}{note}  [{measurement.wall_seconds:.1f} s]"


def chart(config: Config, json_path: Path) -> str:
    """Draw throughput.png; returns a note when it could not."""
    png = config.results_dir / "throughput.png"
    try:
        import matplotlib  # noqa: F401

        python = sys.executable
    except ImportError:
        try:
            python = str(ensure_env(PLOT_ENV, config.install))
        except EnvUnavailableError as exc:
            return f"chart skipped: matplotlib not importable and {exc}"
    script = Path(__file__).resolve().parent / "chart.py"
    done = subprocess.run(
        [python, str(script), str(json_path), str(png)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"chart skipped: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}"
    return f"chart: {png}"


def main(argv: list[str] | None = None) -> int:
    config = from_args(argv)
    started_wall, started = time.time(), time.perf_counter()
    given = sys.argv[1:] if argv is None else argv
    command, info = announce(f"LiteFlow bench ({'quick' if config.quick else 'full'})", "bench", given)
    availability: dict[str, str] = {}
    for name in config.systems:
        reason = SYSTEMS[name].probe(config.install) or ""
        availability[name] = reason
        print(f"  {name:<9} {'ready' if not reason else 'SKIPPED: ' + reason}  ({SYSTEMS[name].about})")
    running = [SYSTEMS[name] for name in config.systems if not availability[name]]

    plan = Plan(config, lambda measurement: print(summary(measurement), flush=True))
    for workload in config.workloads:
        print(f"\n{TITLES[workload]}")
        for system in running:
            plan.run(workload, system)

    names = [system.name for system in running]
    text, _, verdicts = render(config, plan.results, names)
    print("\n" + text)
    skipped = {name: reason for name, reason in availability.items() if reason}
    for name, reason in skipped.items():
        print(f"  (not run: {name}: {reason})")
    json_path = config.results_dir / "latest.json"
    write_json(
        json_path,
        config,
        plan.results,
        availability,
        text,
        verdicts,
        started_wall,
        command,
        info["load_average"],
    )
    print(f"\nresults: {json_path}")
    if config.chart:
        print(chart(config, json_path))
    print(f"load average at the end: {machine()['load_average']} (other processes share these cores)")
    print(f"total time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
