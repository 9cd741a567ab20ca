"""Readable output on a terminal: aligned tables, times without noise, one instance in full."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["print_instance", "print_table", "short_time"]

_MAX_CELL = 48


def short_time(text: str | None) -> str:
    """``2026-05-06T07:08:09.123456+00:00`` as ``2026-05-06 07:08:09`` (times are UTC)."""
    return "-" if not text else text[:19].replace("T", " ")


def _cell(value: Any) -> str:
    text = "-" if value is None or value == "" else str(value)
    text = " ".join(text.split())  # a value's own line breaks would break the table
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def print_table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[n]) for row in cells)]) for n, header in enumerate(headers)]
    for row in [list(headers), *cells]:
        out.write(
            "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip() + "\n"
        )


def _print_steps(out: TextIO, steps: list[dict[str, Any]], indent: str) -> None:
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        branch = "└─ " if last else "├─ "
        line = f"{indent}{branch}{step['step']} [{step['status']}]"
        line += f"  {short_time(step['start_time'])} → {short_time(step['end_time'])}"
        if step["attempts"]:
            line += f"  attempts: {step['attempts']}"
        if step["item"] is not None:
            line += f"  item: {json.dumps(step['item'])[:60]}"
        if step["outcome"] is not None:
            line += f"  outcome: {json.dumps(step['outcome'])[:60]}"
        if step["waiting_for"]:
            line += f"  waits for {step['waiting_for']}"
        out.write(line + "\n")
        _print_steps(out, step["children"], indent + ("   " if last else "│  "))


def print_instance(out: TextIO, view: dict[str, Any]) -> None:
    out.write(f"workflow {view['id']}  {view['definition']} v{view['version']}  {view['status'].upper()}\n")
    print_table(
        out,
        ["reference", "created", "completed", "next run", "parent"],
        [
            [
                view["reference"],
                short_time(view["create_time"]),
                short_time(view["complete_time"]),
                short_time(view["next_execution"]),
                view["parent_workflow_id"],
            ]
        ],
    )
    out.write("\ndata:\n")
    for line in json.dumps(view["data"], indent=2, ensure_ascii=False).splitlines():
        out.write(f"  {line}\n")
    archived = view["archived_steps"]
    more = " (and more: the oldest are shown)" if view["more_archived_steps"] else ""
    out.write(f"\nsteps ({archived} from the instance's history{more}):\n" if archived else "\nsteps:\n")
    _print_steps(out, view["steps"], "  ")
    if view["subscriptions"]:
        out.write("\nsubscriptions:\n")
        rows = [
            [s["event_name"], s["event_key"], short_time(s["subscribe_as_of"]), s["step_id"]]
            for s in view["subscriptions"]
        ]
        print_table(out, ["event", "key", "as of", "step"], rows)
    if view["errors"]:
        out.write("\nerrors:\n")
        for error in view["errors"]:
            step = "" if error["step_id"] is None else f" step {error['step_id']}"
            out.write(f"  {short_time(error['time'])}{step}: {error['message']}\n")
            for line in (error["traceback"] or "").rstrip().splitlines():
                out.write(f"      {line}\n")
    if view["actions"]:
        out.write("\nhistory:\n")
        rows = [[short_time(a["time"]), a["action"], a["actor"], a["detail"]] for a in view["actions"]]
        print_table(out, ["time", "action", "actor", "detail"], rows)
