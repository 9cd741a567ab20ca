"""One process of a cluster test: a host node, or a driver that starts workflows or publishes events.

    python -m tests.cluster.node --stack NAME --run-id ID --workdir DIR            # a host, until SIGTERM
    python -m tests.cluster.node --stack NAME --run-id ID --workdir DIR --start 0:300 --laps 1
    python -m tests.cluster.node --stack NAME --run-id ID --workdir DIR --publish 0:300
    python -m tests.cluster.node ... --start 0:200 --workflow three-step --threads 8   # the benchmark's

A host records every step execution in ``DIR/journal-<pid>.log``, touches ``DIR/ready-<pid>``
once it runs, and on SIGTERM stops gracefully (``host.stop()``) and exits 0. Log records go to
stderr, which the tests redirect to a file per process. A driver prints one ``DRIVE-RESULT
{json}`` line to stdout when done: how many calls it made and when the first began and the
last ended (wall clock, comparable with the journals' modification times).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import NamedTuple

from liteflow.core import Workflow, WorkflowHost
from tests.cluster.stacks import STACKS, Run
from tests.cluster.workflow import (
    EVENT_NAME,
    ClusterWorkflow,
    ThreeStepWorkflow,
    event_key,
    event_payload,
    new_data,
    open_journal,
    three_step_data,
)

__all__ = ["DRIVE_RESULT", "DriveResult", "drive_result", "main", "ready_marker"]

DRIVER_THREADS = 4
DRIVE_RESULT = "DRIVE-RESULT"


def register_workflows(host: WorkflowHost) -> None:
    """Every process registers every cluster workflow, so any of them can be started or run."""
    workflows: tuple[Workflow, ...] = (ClusterWorkflow(), ThreeStepWorkflow())
    for workflow in workflows:
        host.register_workflow(workflow)


def ready_marker(workdir: Path, pid: int) -> Path:
    return workdir / f"ready-{pid}"


def index_range(text: str) -> range:
    """``A:B`` -> range(A, B): the instances a driver works on."""
    first, _, last = text.partition(":")
    try:
        return range(int(first), int(last))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FIRST:LAST (two integers), got {text!r}") from None


def serve(run: Run) -> None:
    """Run a host until SIGTERM, or until the test that started it is gone (so that a test
    process killed before its cleanup never leaves hosts working on the servers)."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    parent = os.getppid()
    open_journal(run.workdir)
    host = run.host()
    register_workflows(host)
    host.start()
    ready_marker(run.workdir, os.getpid()).touch()
    while not stopping.wait(1.0):
        if os.getppid() != parent:
            logging.getLogger("liteflow.cluster").warning("the test process %d is gone; stopping", parent)
            break
    host.stop()
    host.persistence_service.close()


class DriveResult(NamedTuple):
    """What a driver did: `calls` calls, the first begun at `first` and the last ended at `last`
    (``time.time()``)."""

    calls: int
    first: float
    last: float


def drive(
    run: Run, indexes: range, action: Callable[[WorkflowHost, int], object], threads: int = DRIVER_THREADS
) -> None:
    """Apply `action` to every index through a host that only writes (no worker threads), from a
    few threads at once: each call is a few round trips to the servers, mostly spent waiting.
    The connections are opened before the clock starts, so the result times the calls alone."""
    host = run.host()
    register_workflows(host)
    host.persistence_service.start()
    host.queue_service.start()
    try:
        with ThreadPoolExecutor(threads) as pool:
            first = time.time()
            for _ in pool.map(lambda index: action(host, index), indexes):
                pass
            last = time.time()
    finally:
        host.queue_service.shutdown()
        host.persistence_service.close()
    print(DRIVE_RESULT, json.dumps(DriveResult(len(indexes), first, last)._asdict()), flush=True)


def drive_result(output: str) -> DriveResult | None:
    """The result a driver printed, found in its output (None if it printed none)."""
    for line in reversed(output.splitlines()):
        if line.startswith(f"{DRIVE_RESULT} "):
            return DriveResult(**json.loads(line.removeprefix(f"{DRIVE_RESULT} ")))
    return None


def start_workflow(host: WorkflowHost, index: int, laps: int) -> str:
    return host.start_workflow("ClusterWorkflow", 1, new_data(index, laps))


def start_three_step(host: WorkflowHost, index: int, wait_ms: int) -> str:
    return host.start_workflow("ClusterThreeStep", 1, three_step_data(index, wait_ms))


def publish_event(host: WorkflowHost, index: int) -> str:
    return host.publish_event(EVENT_NAME, event_key(index), event_payload(index))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.node", description=__doc__)
    parser.add_argument("--stack", required=True, choices=sorted(STACKS))
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--workdir", required=True, type=Path)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--start", type=index_range, metavar="FIRST:LAST", help="start these instances")
    mode.add_argument("--publish", type=index_range, metavar="FIRST:LAST", help="publish their events")
    parser.add_argument("--fast-recovery", action="store_true", help="take a killed host's work over sooner")
    parser.add_argument("--laps", type=int, default=1, help="loop iterations of the started instances")
    parser.add_argument(
        "--workflow",
        choices=("cluster", "three-step"),
        default="cluster",
        help="what --start starts: ClusterWorkflow (the tests') or ThreeStepWorkflow (the benchmark's)",
    )
    parser.add_argument("--threads", type=int, default=DRIVER_THREADS, help="a driver's calls at once")
    parser.add_argument(
        "--wait-ms", type=int, default=0, help="three-step: how long its middle step waits (simulated I/O)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s pid=%(process)d %(threadName)s %(name)s %(levelname)s %(message)s",
    )
    run = Run(args.stack, args.run_id, args.workdir, args.fast_recovery)
    if args.start is not None:
        starter = (
            partial(start_three_step, wait_ms=args.wait_ms)
            if args.workflow == "three-step"
            else partial(start_workflow, laps=args.laps)
        )
        drive(run, args.start, starter, args.threads)
    elif args.publish is not None:
        drive(run, args.publish, publish_event, args.threads)
    else:
        serve(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
