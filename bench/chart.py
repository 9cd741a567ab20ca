"""Throughput against workflow count, one line per system, from latest.json.

Runnable on its own (``python bench/chart.py latest.json throughput.png``) with any python
that has matplotlib: the bench draws in-process when it can import matplotlib, else in the
bench/.envs/plot virtualenv, so the project's own environment never needs it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def series(document: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    lines: dict[str, list[tuple[int, float]]] = {}
    for measurement in document["measurements"]:
        if (
            measurement["workload"] == "throughput"
            and measurement["role"] == "result"
            and measurement["status"] == "ok"
        ):
            label = document["systems"][measurement["system"]]["label"]
            lines.setdefault(label, []).append(
                (measurement["params"]["count"], measurement["metrics"]["per_second"])
            )
    return {label: sorted(points) for label, points in lines.items()}


def draw(document: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    for label, points in series(document).items():
        counts, rates = zip(*points, strict=True)
        axes.plot(counts, rates, marker="o", label=label)
        for count, rate in points:
            axes.annotate(
                f"{rate:,.0f}", (count, rate), textcoords="offset points", xytext=(4, 4), fontsize=7
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:,.0f}")
    axes.xaxis.set_major_formatter(plain)
    axes.yaxis.set_major_formatter(plain)
    axes.set_xlabel("workflows started at once")
    axes.set_ylabel("completed 3-step workflows per second")
    machine = document.get("machine", {})
    axes.set_title(
        f"Throughput vs workflow count ({machine.get('cores', '?')} cores, {document.get('date', '')})",
        fontsize=10,
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png)
    plt.close(figure)


def main(argv: list[str]) -> int:
    source, target = Path(argv[1]), Path(argv[2])
    draw(json.loads(source.read_text(encoding="utf-8")), target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
