"""`python -m bench.dashboard`: how long the dashboard's pages take on a big store (server time).

Fills a fresh store with `--instances` instances (default 100,000: mostly complete, some
runnable, suspended and terminated, five definitions, a month of create times, one reference
each, three steps and a small data object each), then asks the dashboard's ASGI application,
in-process, for list pages (unfiltered, by status, definition, reference and time, and a deep
page) and an instance page, `--rounds` times each. Prints the median and the slowest time per
page and PASS or MISS against the issue's budget of 300 ms a page; exits 1 on a MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from liteflow.core import ExecutionPointer, SqlitePersistenceProvider, WorkflowInstance
from liteflow.core.clock import utcnow
from liteflow.dashboard import create_app

from .report import format_table

BUDGET_MS = 300.0
DEFINITIONS = ("Order", "Refund", "Approval", "Shipment", "Invoice")
STATUSES = (
    (WorkflowInstance.COMPLETE, 0.90),
    (WorkflowInstance.RUNNABLE, 0.05),
    (WorkflowInstance.SUSPENDED, 0.03),
    (WorkflowInstance.TERMINATED, 0.02),
)


def _instance(number: int, rng: random.Random) -> WorkflowInstance:
    now = utcnow()
    instance = WorkflowInstance()
    instance.workflow_definition_id = DEFINITIONS[number % len(DEFINITIONS)]
    instance.status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
    instance.create_time = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
    instance.reference = f"order-{number}"
    instance.data = {"order": number, "customer": f"customer-{number % 977}", "amount": number % 500}
    for step_id in range(3):
        pointer = ExecutionPointer()
        pointer.id = f"{number}-{step_id}"
        pointer.step_id = step_id
        pointer.status = ExecutionPointer.COMPLETE
        pointer.start_time = pointer.end_time = instance.create_time
        instance.execution_pointers.append(pointer)
    if instance.status != WorkflowInstance.RUNNABLE:
        instance.complete_time = instance.create_time + timedelta(seconds=2)
    return instance


def fill(store: SqlitePersistenceProvider, count: int) -> str:
    """Store `count` instances; return the id of one in the middle."""
    rng = random.Random(42)
    middle = ""
    for number in range(count):
        workflow_id = store.create_workflow(_instance(number, rng))
        if number == count // 2:
            middle = workflow_id
    return middle


def _request(app: Any, target: str) -> float:
    """Milliseconds from the request to the last byte of the response, in-process."""
    path, _, query = target.partition("?")
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": []}
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    started = time.perf_counter()
    asyncio.run(app(scope, receive, send))
    elapsed = (time.perf_counter() - started) * 1000
    if status != [200]:
        raise RuntimeError(f"{target} answered {status}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="liteflow-bench-dashboard-") as folder:
        store = SqlitePersistenceProvider(Path(folder) / "dashboard.db")
        started = time.perf_counter()
        middle = fill(store, args.instances)
        print(f"stored {args.instances:,} instances in {time.perf_counter() - started:.1f} s")
        app = create_app(store)
        pages = {
            "list, newest": "/instances",
            "list, suspended": "/instances?status=suspended",
            "list, complete": "/instances?status=complete",
            "list, one definition": "/instances?definition=Refund",
            "list, by reference": f"/instances?reference=order-{args.instances // 3}",
            "list, last hour": "/instances?since=1h",
            "list, page 100": "/instances?offset=5000",
            "instance": f"/instances/{middle}",
        }
        rows = []
        missed = False
        for name, target in pages.items():
            times = [_request(app, target) for _ in range(args.rounds)]
            slowest = max(times)
            missed |= slowest > BUDGET_MS
            verdict = "PASS" if slowest <= BUDGET_MS else "MISS"
            rows.append([name, f"{statistics.median(times):.1f}", f"{slowest:.1f}", verdict])
        store.close()
    print(format_table(["page", "median ms", "slowest ms", f"<= {BUDGET_MS:.0f} ms"], rows))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
