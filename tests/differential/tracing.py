"""The workflow data both sides write: the trace, run counters, loop counters, received events.

The compiled steps (on a real host) and the reference interpreter update the data through
these same functions, so the final data can be compared as a whole.

Every trace entry is unique: ``label + item + "#" + run``, where `run` counts the earlier
runs of that label for that item. Steps in branches that run side by side never share a
(label, item) pair, so their counters never race and an entry names one run of one step.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "child_items",
    "enter_loop",
    "event_key",
    "event_name",
    "event_payload",
    "event_property",
    "loop_passes",
    "new_data",
    "next_loop_pass",
    "receive",
    "record",
    "runs",
]

Data = dict[str, Any]


def new_data() -> Data:
    return {"trace": [], "runs": {}, "loops": {}}


def _key(label: str, item: str | None) -> str:
    return f"{label}{item or ''}"


def runs(data: Data, label: str, item: str | None) -> int:
    """How many times `label` recorded for `item` so far."""
    count: int = data["runs"].get(_key(label, item), 0)
    return count


def record(data: Data, label: str, item: str | None) -> str:
    """Append this run of `label` to the trace; return its entry."""
    key = _key(label, item)
    run = runs(data, label, item)
    data["runs"][key] = run + 1
    entry = f"{key}#{run}"
    data["trace"].append(entry)
    return entry


def enter_loop(data: Data, label: str, item: str | None) -> None:
    data["loops"][_key(label, item)] = 0


def next_loop_pass(data: Data, label: str, item: str | None) -> None:
    data["loops"][_key(label, item)] += 1


def loop_passes(data: Data, label: str, item: str | None) -> int:
    count: int = data["loops"].get(_key(label, item), 0)
    return count


def child_items(item: str | None, count: int) -> list[str]:
    """A for_each's items, named after the enclosing item so nested loops stay distinct."""
    return [f"{item or ''}/{index}" for index in range(count)]


def event_name(label: str) -> str:
    return f"ev-{label}"


def event_key(item: str | None) -> str:
    return item or "-"


def event_payload(name: str, key: str) -> str:
    return f"{name}|{key}"


def event_property(label: str) -> str:
    return f"ev_{label}"


def receive(data: Data, label: str, payload: Any) -> list[str]:
    """The wait's output: every payload its runs received, sorted (so order cannot matter)."""
    return sorted({*data.get(event_property(label), []), str(payload)})
