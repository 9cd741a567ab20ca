"""One process of a cluster test: a host node, or a driver that starts workflows or publishes events.

    python -m tests.cluster.node --stack NAME --run-id ID --workdir DIR            # a host, until SIGTERM
    python -m tests.cluster.node --stack NAME --run-id ID --workdir DIR --start 0:300 --laps 1
    python -m tests.cluster.node --stack NAME --run-id ID --workdir DIR --publish 0:300

A host records every step execution in ``DIR/journal-<pid>.log``, touches ``DIR/ready-<pid>``
once it runs, and on SIGTERM stops gracefully (``host.stop()``) and exits 0. Log records go to
stderr, which the tests redirect to a file per process.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from liteflow.core import WorkflowHost
from tests.cluster.stacks import STACKS, Run
from tests.cluster.workflow import (
    EVENT_NAME,
    ClusterWorkflow,
    event_key,
    event_payload,
    new_data,
    open_journal,
)

__all__ = ["main", "ready_marker"]

DRIVER_THREADS = 4


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
    host.register_workflow(ClusterWorkflow())
    host.start()
    ready_marker(run.workdir, os.getpid()).touch()
    while not stopping.wait(1.0):
        if os.getppid() != parent:
            logging.getLogger("liteflow.cluster").warning("the test process %d is gone; stopping", parent)
            break
    host.stop()
    host.persistence_service.close()


def drive(run: Run, indexes: range, action: Callable[[WorkflowHost, int], object]) -> None:
    """Apply `action` to every index through a host that only writes (no worker threads), from a
    few threads at once: each call is a few round trips to the servers, mostly spent waiting."""
    host = run.host()
    host.register_workflow(ClusterWorkflow())
    host.persistence_service.start()
    host.queue_service.start()
    try:
        with ThreadPoolExecutor(DRIVER_THREADS) as pool:
            for _ in pool.map(lambda index: action(host, index), indexes):
                pass
    finally:
        host.queue_service.shutdown()
        host.persistence_service.close()


def start_workflow(host: WorkflowHost, index: int, laps: int) -> str:
    return host.start_workflow("ClusterWorkflow", 1, new_data(index, laps))


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
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s pid=%(process)d %(threadName)s %(name)s %(levelname)s %(message)s",
    )
    run = Run(args.stack, args.run_id, args.workdir, args.fast_recovery)
    if args.start is not None:
        drive(run, args.start, partial(start_workflow, laps=args.laps))
    elif args.publish is not None:
        drive(run, args.publish, publish_event)
    else:
        serve(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
