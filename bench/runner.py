"""Runs one measurement in a child process and turns its output into a `Measurement`.

Every measurement gets a fresh process and a fresh temporary directory, so no host, thread,
cache or database file survives from one run to the next. The child enforces its own deadline
and reports partial numbers; a hard timeout here kills it (its own process group) if it hangs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .peers.driver_common import RESULT_PREFIX
from .systems import REPO_ROOT, System

#: Extra seconds the child gets past its own deadline before it is killed.
GRACE = 30.0


@dataclass
class Measurement:
    """One run of one workload on one system, as stored in latest.json."""

    system: str
    workload: str
    params: dict[str, Any]
    status: str  # ok | timed out | failed | unsupported | skipped
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    note: str = ""
    role: str = "result"  # result | tuning
    wall_seconds: float = 0.0
    reproduce: str = ""
    version: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def skipped(system: str, workload: str, params: dict[str, Any], reason: str) -> Measurement:
    return Measurement(system, workload, params, "skipped", note=reason)


def _child_env(system: System) -> dict[str, str]:
    env = dict(os.environ)
    if not system.ours:
        # A peer's venv must not see our checkout (its `liteflow` package would clash).
        env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_measurement(
    system: System,
    workload: str,
    params: dict[str, Any],
    timeout: float,
    reproduce: str,
) -> Measurement:
    """Run `workload` with `params` on `system`; never raises for a failing or hanging child."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"liteflow-bench-{system.name}-") as workdir:
        spec = {
            **system.extra,
            **params,
            "workload": workload,
            "system": system.name,
            "workdir": workdir,
            "timeout": timeout,
        }
        command = [*system.command(), json.dumps(spec)]
        cwd = str(REPO_ROOT) if system.ours else workdir
        with subprocess.Popen(
            command,
            cwd=cwd,
            env=_child_env(system),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as child:
            try:
                stdout, stderr = child.communicate(timeout=timeout + GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                stdout, stderr = child.communicate()
                return Measurement(
                    system.name,
                    workload,
                    params,
                    "timed out",
                    error=f"killed after {timeout + GRACE:.0f} s without a result",
                    wall_seconds=time.perf_counter() - started,
                    reproduce=reproduce,
                )
    wall = time.perf_counter() - started
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        tail = " | ".join(line for line in stderr.strip().splitlines()[-3:])
        return Measurement(
            system.name,
            workload,
            params,
            "failed",
            error=f"no result (exit {child.returncode}): {tail}",
            wall_seconds=wall,
            reproduce=reproduce,
        )
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    metrics = result.get("metrics") or {}
    return Measurement(
        system.name,
        workload,
        params,
        result.get("status", "failed"),
        metrics=metrics,
        error=result.get("error", ""),
        note=str(metrics.pop("note", "")) if isinstance(metrics, dict) else "",
        wall_seconds=wall,
        reproduce=reproduce,
        version=result.get("version", ""),
    )
