"""The printed tables (values, ratios, targets) and bench/results/latest.json.

Ratios are "times better for this project": ours/peer for rates, peer/ours for times, latency,
CPU and memory, so a number above 1 always favours this project. A value measured by a run
that hit its deadline is still shown (it is what happened) but marked, with a footnote.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from .config import Config, python_for_commands
from .runner import Measurement
from .systems import DURABLE_PEERS, SYSTEMS

PARTIAL = "timed out"
#: The issues state throughput targets from 1,000 workflows up; smaller runs are start-up noise.
TARGET_MIN_COUNT = 1000


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    workload: str
    matches: Callable[[dict[str, Any]], bool]
    metric: str
    fmt: str
    higher_is_better: bool
    scale: float = 1.0


def _param_is(name: str, wanted: int, params: dict[str, Any]) -> bool:
    return params.get(name) == wanted


def rows_for(config: Config) -> list[Row]:
    rows = [
        Row(
            f"throughput@{count}",
            f"(a) 3-step wf/s, n={count:,}",
            "throughput",
            partial(_param_is, "count", count),
            "per_second",
            "{:,.0f}",
            True,
        )
        for count in config.counts
    ]
    rows += [
        Row(
            f"foreach@{workflows}",
            f"(b) foreach {config.foreach_items} x {workflows} wf, s",
            "foreach",
            partial(_param_is, "workflows", workflows),
            "seconds",
            "{:,.3f}",
            False,
        )
        for workflows in config.foreach_workflows
    ]
    anything = lambda p: True  # noqa: E731
    rows += [
        Row(f"{workload}.{stat}", f"{label} {stat}, ms", workload, anything, f"{stat}_ms", "{:,.2f}", False)
        for workload, label in (
            ("event", "(c) event round trip"),
            ("timed-event", "(c') timed wait round trip"),
        )
        for stat in ("median", "p99")
    ]
    rows += [
        Row(
            "sleep.median",
            "(d) 100 ms sleep, late by median, ms",
            "sleep",
            anything,
            "median_ms",
            "{:,.1f}",
            False,
        ),
        Row("sleep.p99", "(d) 100 ms sleep, late by p99, ms", "sleep", anything, "p99_ms", "{:,.1f}", False),
        Row("idle", "(e) idle CPU, % of one core", "idle", anything, "cpu_percent", "{:,.2f}", False),
        Row(
            "memory",
            "(f) memory per waiting wf, KiB",
            "memory",
            anything,
            "bytes_per_workflow",
            "{:,.1f}",
            False,
            1 / 1024,
        ),
    ]
    return [row for row in rows if row.workload in config.workloads]


def find(results: list[Measurement], system: str, row: Row) -> Measurement | None:
    for measurement in results:
        if (
            measurement.system == system
            and measurement.workload == row.workload
            and measurement.role == "result"
            and row.matches(measurement.params)
        ):
            return measurement
    return None


def value(measurement: Measurement | None, row: Row) -> float | None:
    """The row's number from an ok or deadline-limited run, else None."""
    if measurement is None or measurement.status not in ("ok", PARTIAL):
        return None
    raw = measurement.metrics.get(row.metric)
    if not isinstance(raw, (int, float)) or math.isnan(raw):
        return None
    return float(raw) * row.scale


class Table:
    """Values per (row, system) with footnotes for notes, errors and partial runs."""

    def __init__(self, config: Config, results: list[Measurement], systems: list[str]) -> None:
        self.rows = rows_for(config)
        self.results = results
        self.systems = systems
        self.footnotes: list[str] = []
        self._footnote_ids: dict[str, int] = {}

    def _footnote(self, text: str) -> str:
        if text not in self._footnote_ids:
            self.footnotes.append(text)
            self._footnote_ids[text] = len(self.footnotes)
        return f"[{self._footnote_ids[text]}]"

    def cell(self, system: str, row: Row) -> str:
        measurement = find(self.results, system, row)
        if measurement is None:
            return "-"
        number = value(measurement, row)
        parts = [row.fmt.format(number)] if number is not None else [measurement.status]
        remarks = []
        if measurement.status == PARTIAL and number is not None:
            remarks.append(f"deadline hit, partial: {measurement.error}")
        elif measurement.status not in ("ok",) and measurement.error:
            remarks.append(f"{measurement.status}: {measurement.error}")
        if measurement.note:
            remarks.append(measurement.note)
        if measurement.workload == "sleep" and measurement.metrics.get("early"):
            remarks.append(
                f"{measurement.metrics['early']} of {measurement.metrics.get('n')} woke before the due time"
            )
        if remarks:
            what = " ".join(f"{key}={value}" for key, value in measurement.params.items() if key != "options")
            parts.append(self._footnote(f"{system} {measurement.workload} {what}: " + "; ".join(remarks)))
        return "".join(parts)

    def ratio(self, ours: str, peer: str, row: Row) -> str:
        mine, theirs = find(self.results, ours, row), find(self.results, peer, row)
        a, b = value(mine, row), value(theirs, row)
        if a is None or b is None:
            return "-"
        if row.workload == "sleep" and (a < 0 or b < 0):
            return "n/a"
        mine_over_peer = (a, b) if row.higher_is_better else (b, a)
        better = mine_over_peer[0] / mine_over_peer[1] if mine_over_peer[1] > 0 else math.inf
        if math.isnan(better) or better <= 0:
            return "n/a"
        mark = "*" if PARTIAL in (mine.status if mine else "", theirs.status if theirs else "") else ""
        return (">999x" if better > 999 else f"{better:,.1f}x") + mark


def format_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    out = [
        "  ".join(text.ljust(widths[i]) if i == 0 else text.rjust(widths[i]) for i, text in enumerate(line))
        for line in [header, *body]
    ]
    out.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(out)


def targets(table: Table) -> list[dict[str, str]]:
    """The issue's targets, each PASS / MISS / not measured, with the evidence."""
    found: list[dict[str, str]] = []
    rows = {row.key: row for row in table.rows}
    throughput_rows = [row for row in table.rows if row.workload == "throughput"]

    def rates(system: str) -> list[tuple[int, float]]:
        """(count, workflows/s) of the ok runs the targets speak of: 1,000 workflows and more."""
        points = []
        for row in throughput_rows:
            measurement = find(table.results, system, row)
            number = value(measurement, row)
            if measurement is not None and measurement.status == "ok" and number is not None:
                count = int(measurement.params["count"])
                if count >= TARGET_MIN_COUNT:
                    points.append((count, number))
        return points

    def add(name: str, ok: bool | None, evidence: str) -> None:
        verdict = "not measured" if ok is None else ("PASS" if ok else "MISS")
        found.append({"target": name, "verdict": verdict, "evidence": evidence})

    for system, floor in (("memory", 10_000.0), ("sqlite", 3000.0), ("postgres", 1400.0)):
        if system not in table.systems:
            continue
        points = rates(system)
        worst = min(points, key=lambda point: point[1]) if points else None
        add(
            f"{system}: >= {floor:,.0f} three-step workflows/s at every count",
            None if worst is None else worst[1] >= floor,
            "n >= 1,000 not measured" if worst is None else f"slowest {worst[1]:,.0f}/s at n={worst[0]:,}",
        )
    if "memory" in table.systems:
        points = rates("memory")
        name = "memory: rate at the largest count within 25% of the rate at the smallest (n >= 1,000)"
        if len(points) >= 2:
            r1, r2 = points[0][1], points[-1][1]
            series = ", ".join(f"{rate:,.0f}/s at {count:,}" for count, rate in points)
            add(name, r2 >= 0.75 * r1, f"{100 * (r2 / r1 - 1):+.0f}%: {series}")
        else:
            add(name, None, "needs two counts >= 1,000")
    for system, peer, factor in DURABLE_PEERS:
        if system not in table.systems or peer not in table.systems:
            continue
        mine = dict(rates(system))
        common = [(count, mine[count] / rate) for count, rate in rates(peer) if count in mine]
        worst = min(common, key=lambda point: point[1]) if common else None
        add(
            f"{system}: >= {factor:g}x {SYSTEMS[peer].label} throughput",
            None if worst is None else worst[1] >= factor,
            "" if worst is None else f"{worst[1]:,.1f}x at n={worst[0]:,} (lowest over common counts)",
        )
    for system in table.systems:
        if not SYSTEMS[system].ours:
            continue
        for key, limit, what in (
            ("event.median", 10.0, "event round trip median < 10 ms"),
            ("timed-event.median", 10.0, "timed wait round trip median < 10 ms"),
            ("sleep.p99", 20.0, "100 ms sleep wakes < 20 ms late at p99"),
            ("idle", 2.0, "idle CPU < 2% of a core"),
        ):
            row = rows.get(key)
            measurement = find(table.results, system, row) if row else None
            number = value(measurement, row) if row else None
            ok = (
                None
                if number is None or measurement is None or measurement.status != "ok"
                else number < limit
            )
            add(f"{system}: {what}", ok, "" if number is None else f"{number:,.2f}")
    return found


def render(
    config: Config, results: list[Measurement], systems: list[str]
) -> tuple[str, Table, list[dict[str, str]]]:
    table = Table(config, results, systems)
    header = ["workload", *[SYSTEMS[name].label for name in systems]]
    body = [[row.label, *[table.cell(name, row) for name in systems]] for row in table.rows]
    text = [format_table(header, body)]
    ours = [name for name in systems if SYSTEMS[name].ours]
    peers = [name for name in systems if not SYSTEMS[name].ours]
    pairs = [(mine, peer) for mine in ours for peer in peers]
    if pairs:
        header = ["times better (>1 = this project)", *[f"{mine}/{peer}" for mine, peer in pairs]]
        body = [[row.label, *[table.ratio(mine, peer, row) for mine, peer in pairs]] for row in table.rows]
        text += ["", format_table(header, body)]
        if any(cell.endswith("*") for line in body for cell in line):
            text.append("  * one side hit its deadline (partial numbers)")
    verdicts = targets(table)
    if verdicts:
        text += ["", "Targets (reported, not asserted):"]
        text += [
            f"  {v['verdict']:<12} {v['target']}{'  (' + v['evidence'] + ')' if v['evidence'] else ''}"
            for v in verdicts
        ]
    if table.footnotes:
        text += ["", "Notes:"] + [f"  [{n}] {note}" for n, note in enumerate(table.footnotes, 1)]
    return "\n".join(text), table, verdicts


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), ""
            )
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def announce(title: str, module: str, given: list[str]) -> tuple[str, dict[str, Any]]:
    """Print the run's title with the command that repeats it and the machine; return both."""
    command = " ".join([python_for_commands(), "-m", module, *map(shlex.quote, given)])
    info = machine()
    print(f"{title}: {command}")
    print(
        f"machine: {info['cores']} cores, {info['cpu']}, Python {info['python']}, load {info['load_average']}"
    )
    return command, info


def write_json(
    path: Path,
    config: Config,
    results: list[Measurement],
    availability: dict[str, str],
    table_text: str,
    verdicts: list[dict[str, str]],
    started: float,
    command: str,
    load_at_start: list[float],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str] = {}
    for measurement in results:
        if measurement.version:
            versions.setdefault(measurement.system, measurement.version)
    document = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "command": command,
        "duration_s": time.time() - started,
        "mode": "quick" if config.quick else "full",
        "machine": {**machine(), "load_average_at_start": load_at_start},
        "systems": {
            name: {
                "label": SYSTEMS[name].label,
                "about": SYSTEMS[name].about,
                "available": availability[name] == "",
                "skipped_because": availability[name],
                "version": versions.get(name, ""),
            }
            for name in config.systems
        },
        "measurements": [measurement.to_json() for measurement in results],
        "targets": verdicts,
        "table": table_text,
    }
    text = json.dumps(document, indent=2, default=str)
    path.write_text(text, encoding="utf-8")
    # Every run is also kept under its own name: a later partial run must not erase a full one.
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    archive = path.parent / "runs" / f"{stamp}-{document['mode']}.json"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_text(text, encoding="utf-8")
