"""Private virtualenvs for the peers (and the chart), created under bench/.envs on first use.

The original `liteflow.core` installs a top-level `liteflow` package that would shadow ours,
and DBOS brings SQLAlchemy and friends that the project does not need, so each peer gets a
virtualenv of its own and is driven from a separate process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ENVS_DIR = BENCH_DIR / ".envs"
MARKER = "bench-installed.json"


@dataclass(frozen=True)
class EnvSpec:
    """A named virtualenv and the requirements pip installs into it."""

    name: str
    requirements: tuple[str, ...]

    @property
    def path(self) -> Path:
        return ENVS_DIR / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


class EnvUnavailableError(Exception):
    """The env is missing and may not be installed, or its installation failed."""


def _installed(env: EnvSpec) -> bool:
    marker = env.path / MARKER
    if not (marker.is_file() and env.python.exists()):
        return False
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(recorded.get("requirements") == list(env.requirements))


def ensure_env(env: EnvSpec, allow_install: bool = True) -> Path:
    """Return the env's python, creating the env and installing its requirements if needed."""
    if _installed(env):
        return env.python
    if not allow_install:
        raise EnvUnavailableError(f"{env.path} is not installed (run without --no-install to create it)")
    print(f"  installing {' '.join(env.requirements)} into {env.path} (first run only) ...", flush=True)
    started = time.perf_counter()
    env.path.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(env.path)],
        [
            str(env.python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *env.requirements,
        ],
    ]
    for command in steps:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            lines = [
                line
                for line in (done.stderr + done.stdout).splitlines()
                if line.strip() and "is ignored: it is neither a file nor a directory" not in line
            ]
            tail = " | ".join(lines[-4:])
            raise EnvUnavailableError(f"`{' '.join(command)}` failed (exit {done.returncode}): {tail}")
    marker = {"requirements": list(env.requirements), "installed_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    (env.path / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    print(f"  installed in {time.perf_counter() - started:.0f} s", flush=True)
    return env.python
