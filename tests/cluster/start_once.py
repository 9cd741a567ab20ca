"""A process that starts one instance under a chosen id at a given moment, then exits.

    python -m tests.cluster.start_once --stack NAME --run-id ID --workdir DIR --instance-id X --at EPOCH

Several of them released at the same `--at` race to create the same instance; each prints
``STARTED <id>`` (what `start_workflow` returned).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.cluster.node import register_workflows
from tests.cluster.stacks import STACKS, Run
from tests.cluster.workflow import three_step_data

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.start_once", description=__doc__)
    parser.add_argument("--stack", required=True, choices=sorted(STACKS))
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--instance-id", required=True)
    parser.add_argument("--at", required=True, type=float, help="time.time() to start at")
    args = parser.parse_args(argv)
    host = Run(args.stack, args.run_id, args.workdir).host()
    register_workflows(host)
    host.persistence_service.start()
    host.queue_service.start()
    try:
        time.sleep(max(0.0, args.at - time.time()))
        started = host.start_workflow("ClusterThreeStep", 1, three_step_data(7), instance_id=args.instance_id)
    finally:
        host.queue_service.shutdown()
        host.persistence_service.close()
    print("STARTED", started, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
