"""Which measurements each workload makes on each system, in what order, with what sizes.

The workloads themselves live in the drivers (one per system family, same shape in each);
this module decides the runs: tuning of this project's host options, skipping throughput
counts a slow peer could not finish within the run budget, and capping populations of
waiting workflows at what the system can start within the population budget. Every such
decision is written into the measurement's note, so the report says what was not measured.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from .config import TUNING_CANDIDATES, Config, python_for_commands
from .runner import Measurement, run_measurement, skipped
from .systems import SYSTEMS, System

Emit = Callable[[Measurement], None]

TITLES = {
    "throughput": "(a) 3-step workflows: start N, time to the last completion",
    "foreach": "(b) foreach over 100 items: time to complete",
    "event": "(c) event round trip: publish to the next step running",
    "timed-event": "(c') event round trip through a wait with a 2-day timeout",
    "sleep": "(d) 100 ms sleep: wake-up lateness",
    "idle": "(e) idle CPU with workflows waiting on events",
    "memory": "(f) memory per waiting workflow",
}


def reproduce(config: Config, system: str, workload: str, params: dict[str, Any]) -> str:
    """The command that re-runs exactly this measurement."""
    parts = [python_for_commands(), "-m", "bench"]
    if config.quick:
        parts.append("--quick")
    parts += ["--systems", system, "--workloads", workload]
    flag = {
        "throughput": ("--counts", "count"),
        "event": ("--events", "count"),
        "timed-event": ("--events", "count"),
        "sleep": ("--sleepers", "count"),
        "idle": ("--idle-workflows", "count"),
        "memory": ("--memory-workflows", "count"),
        "foreach": ("--foreach-workflows", "workflows"),
    }[workload]
    parts += [flag[0], str(params[flag[1]])]
    if workload == "foreach":
        parts += ["--foreach-items", str(params["items"])]
    if workload == "idle":
        parts += ["--idle-window", f"{params['window']:g}"]
    if "options" in params:
        pinned = ",".join(f"{key}={value}" for key, value in params["options"].items())
        parts += ["--host-options", pinned or "defaults"]
    return " ".join(parts)


class Plan:
    """Runs the configured workloads on the available systems and hands out every result."""

    def __init__(self, config: Config, emit: Emit) -> None:
        self.config = config
        self.emit = emit
        self.results: list[Measurement] = []

    # --- plumbing --------------------------------------------------------------------------

    def _run(
        self,
        system: System,
        workload: str,
        params: dict[str, Any],
        role: str = "result",
        timeout: float | None = None,
        note: str = "",
    ) -> Measurement:
        command = reproduce(self.config, system.name, workload, params)
        print(f"  [{system.name}] {workload} {_describe(params)}   $ {command}", flush=True)
        measurement = run_measurement(system, workload, params, timeout or self.config.timeout, command)
        measurement.role = role
        if note:
            measurement.note = f"{note}; {measurement.note}" if measurement.note else note
        self._keep(measurement)
        return measurement

    def _keep(self, measurement: Measurement) -> None:
        self.results.append(measurement)
        self.emit(measurement)

    def _skip(self, system: System, workload: str, params: dict[str, Any], reason: str) -> None:
        measurement = skipped(system.name, workload, params, reason)
        measurement.reproduce = reproduce(self.config, system.name, workload, params)
        self._keep(measurement)

    def _rate(self, system: System) -> float | None:
        """The best completed-workflows rate this system showed, to size its populations."""
        rates = [
            (m.metrics.get("completed") or m.metrics.get("started") or 0) / m.metrics["seconds"]
            for m in self.results
            if m.system == system.name
            and m.workload == "throughput"
            and m.status in ("ok", "timed out")
            and m.metrics.get("seconds")
        ]
        rates = [rate for rate in rates if rate > 0]
        return max(rates) if rates else None

    def _too_slow_for_quick(self, system: System) -> str:
        """In --quick, a system that could not finish its smallest throughput run is not tried
        further: every other workload would only run into its deadline too."""
        runs = [m for m in self.results if m.system == system.name and m.workload == "throughput"]
        if not self.config.quick or not runs or any(m.status == "ok" for m in runs):
            return ""
        return f"--quick: its {runs[0].params['count']:,}-workflow throughput run did not finish in time"

    def _population(self, system: System, wanted: int) -> tuple[int, str]:
        rate = self._rate(system)
        if rate is None or wanted <= rate * self.config.population_budget:
            return wanted, ""
        capped = max(20, int(rate * self.config.population_budget))
        return capped, (
            f"reduced from {wanted:,} to {capped:,}: at ~{rate:,.0f} workflows/s starting "
            f"{wanted:,} would take ~{wanted / rate:,.0f} s"
        )

    # --- workloads -------------------------------------------------------------------------

    def run(self, workload: str, system: System) -> None:
        reason = self._too_slow_for_quick(system) if workload != "throughput" else ""
        if reason:
            for params in self.params(workload):
                self._skip(system, workload, params, reason)
            return
        getattr(self, "_" + workload.replace("-", "_"))(system)

    def _throughput(self, system: System) -> None:
        config = self.config
        timeout = max(config.timeout, 2 * config.run_budget)
        known: dict[tuple[int, str], Measurement] = {}
        options: dict[str, Any] = {}
        note = ""
        if system.ours and config.host_options is not None:
            options = dict(config.host_options)
        elif system.ours and not config.quick:  # quick: library defaults; tuning tiny runs is noise
            options, note = self._tune(system, known, timeout)
        done: list[Measurement] = []
        for count in config.counts:
            params: dict[str, Any] = {"count": count, **({"options": options} if system.ours else {})}
            earlier = known.get((count, _key(options)))
            if earlier is not None:
                reused = Measurement(**{**earlier.to_json(), "role": "result", "note": "the tuning run"})
                self._keep(reused)
                done.append(reused)
                continue
            reason = _skip_reason(done, count, config.run_budget)
            if reason:
                self._skip(system, "throughput", params, reason)
                continue
            done.append(self._run(system, "throughput", params, timeout=timeout, note=note))

    def _tune(
        self, system: System, known: dict[tuple[int, str], Measurement], timeout: float
    ) -> tuple[dict[str, Any], str]:
        """Find the fastest host options: a probe at the smallest count with the library's
        defaults, then each candidate at 10,000 (if the probe says that fits the run budget)."""
        counts = self.config.counts
        probe = self._run(
            system, "throughput", {"count": counts[0], "options": {}}, role="tuning", timeout=timeout
        )
        known[(counts[0], _key({}))] = probe
        if probe.status != "ok":
            return {}, ""
        tune_count = 10000 if 10000 in counts else counts[len(counts) // 2]
        estimate = probe.metrics["seconds"] * tune_count / counts[0]
        if estimate > self.config.run_budget / 2:
            why = f"not tuned (~{estimate:,.0f} s per try at n={tune_count:,}): library default host options"
            print(f"      {why}", flush=True)
            return {}, why
        for options in TUNING_CANDIDATES:
            run = self._run(
                system, "throughput", {"count": tune_count, "options": dict(options)}, "tuning", timeout
            )
            known[(tune_count, _key(options))] = run
        tries = [m for (count, _), m in known.items() if count == tune_count and m.status == "ok"]
        if not tries:
            return {}, ""
        best = max(tries, key=lambda run: run.metrics["per_second"])
        return dict(best.params["options"]), ""

    def _foreach(self, system: System) -> None:
        for params in self.params("foreach"):
            self._run(system, "foreach", params)

    def _populated(self, system: System, workload: str) -> None:
        for params in self.params(workload):
            count, note = self._population(system, params["count"])
            self._run(system, workload, {**params, "count": count}, note=note)

    def _event(self, system: System) -> None:
        self._populated(system, "event")

    def _timed_event(self, system: System) -> None:
        self._populated(system, "timed-event")

    def _sleep(self, system: System) -> None:
        self._populated(system, "sleep")

    def _idle(self, system: System) -> None:
        self._populated(system, "idle")

    def _memory(self, system: System) -> None:
        self._populated(system, "memory")

    def params(self, workload: str) -> list[dict[str, Any]]:
        """The runs a workload asks for, before any per-system capping."""
        config = self.config
        if workload == "throughput":
            return [{"count": count} for count in config.counts]
        if workload == "foreach":
            return [
                {"workflows": workflows, "items": config.foreach_items}
                for workflows in config.foreach_workflows
            ]
        if workload in ("event", "timed-event"):
            return [{"count": config.events, "settle": config.settle, "pace": config.pace}]
        if workload == "sleep":
            return [{"count": config.sleepers}]
        if workload == "idle":
            return [{"count": config.idle_workflows, "window": config.idle_window, "settle": config.settle}]
        return [{"count": config.memory_workflows, "warm": config.warm}]


def _skip_reason(done: list[Measurement], count: int, budget: float) -> str:
    """Why a throughput run at `count` is not worth starting, or "" to run it."""
    if not done:
        return ""
    last = done[-1]
    if last.status != "ok":
        return f"not run because the {last.params['count']:,} run {last.status}"
    ok = [m for m in done if m.status == "ok" and m.metrics.get("seconds", 0) > 0]
    n2, t2 = ok[-1].params["count"], ok[-1].metrics["seconds"]
    exponent = 1.0
    if len(ok) >= 2:
        n1, t1 = ok[-2].params["count"], ok[-2].metrics["seconds"]
        if n2 > n1 and t2 > 0 and t1 > 0:
            exponent = min(2.0, max(1.0, math.log(t2 / t1) / math.log(n2 / n1)))
    estimate = t2 * (count / n2) ** exponent
    if estimate <= budget:
        return ""
    return (
        f"estimated ~{estimate:,.0f} s from the {n2:,} run "
        f"(time ~ n^{exponent:.2f}), over the {budget:,.0f} s budget per run"
    )


def _key(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True)


def _describe(params: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items())


def systems_in(config: Config) -> list[System]:
    return [SYSTEMS[name] for name in config.systems]
