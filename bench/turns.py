"""Variants of one measurement taking turns, each run in a fresh process of its own.

Round after round, every variant runs once on each system, so load from elsewhere on the
machine falls on all of them alike; the benches compare the medians.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .report import format_table
from .systems import REPO_ROOT

__all__ = ["in_fresh_process", "names", "report", "take_turns", "turns_parser"]


def in_fresh_process(module: str, arguments: list[str], what: str) -> dict[str, Any]:
    """`python -m <module> --child <arguments>` from the repository root: the JSON object it
    printed last."""
    command = [sys.executable, "-m", module, "--child", *arguments]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip()[-2000:]}")
    metrics: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return metrics


def take_turns(
    args: argparse.Namespace, measure: Callable[[str, str], float], shown: Callable[[float], str]
) -> dict[tuple[str, str], list[float]]:
    """`measure(variant, system)` for each of `args.variants` in turn, `args.rounds` times on
    each of `args.systems`, printing each value as `shown` makes it; the values by (system, variant)."""
    values: dict[tuple[str, str], list[float]] = {}
    for system in names(args.systems):
        for round_number in range(1, args.rounds + 1):
            for variant in names(args.variants):
                value = measure(variant, system)
                values.setdefault((system, variant), []).append(value)
                print(f"  [{system}] round {round_number} {variant:<10} {shown(value)}", flush=True)
    return values


def report(
    table: tuple[list[str], list[list[str]]],
    verdicts: list[str],
    path: Path,
    made_by: tuple[str, dict[str, Any]],
    **values: Any,
) -> None:
    """Print the table (headers, rows) and the verdicts; write the values to `path` as JSON,
    with what `made_by` them (the command and the machine)."""
    print()
    print(format_table(*table))
    print()
    print("\n".join(verdicts))
    path.parent.mkdir(parents=True, exist_ok=True)
    command, machine = made_by
    path.write_text(json.dumps({"command": command, "machine": machine, **values}, indent=2))
    print(f"results: {path}")


def turns_parser(
    module: str, doc: str, variants: tuple[str, ...], count: int, rounds: int
) -> argparse.ArgumentParser:
    """The options every such bench takes: systems, variants, count, rounds (and its child's)."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.split("\n\n", maxsplit=1)[0])
    parser.add_argument(
        "--systems", default="memory,sqlite", help="our systems to run on (default %(default)s)"
    )
    parser.add_argument("--variants", default=",".join(variants), help="default %(default)s")
    parser.add_argument("--count", type=int, default=count, help="workflows per run (default %(default)s)")
    parser.add_argument(
        "--rounds", type=int, default=rounds, help="runs of each variant (default %(default)s)"
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    return parser


def names(text: str) -> list[str]:
    """The names of a comma-separated list."""
    return [name.strip() for name in text.split(",") if name.strip()]
