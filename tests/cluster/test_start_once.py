"""Two processes start the same instance id at the same moment: one instance (issue 16).

The store's unique key decides, not a read and a write, so it holds across processes as it
does across threads. Runs on SQLite (one file shared by the processes) and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cluster.harness import ROOT, Cluster

__all__: list[str] = []

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PROCESSES = 2
#: Long enough for every process to import LiteFlow and connect before the common moment.
HEAD_START = 3.0


@pytest.mark.parametrize("stack", ["sqlite", "postgres"])
def test_two_processes_starting_one_instance_id_at_once_start_one_instance(
    stack: str, tmp_path: Path
) -> None:
    with Cluster(stack, tmp_path) as cluster:
        run = cluster.run
        at = time.time() + HEAD_START
        command = [sys.executable, "-m", "tests.cluster.start_once", "--stack", stack, "--run-id", run.run_id]
        command += ["--workdir", str(run.workdir), "--instance-id", "order-42", "--at", str(at)]
        processes = [
            subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(PROCESSES)
        ]
        outputs = [process.communicate(timeout=60)[0] for process in processes]
        assert [process.returncode for process in processes] == [0] * PROCESSES, outputs
        assert all(output.strip().endswith("STARTED order-42") for output in outputs), outputs
        instances = cluster.stored_instances(10)
    assert [instance.id for instance in instances] == ["order-42"]
