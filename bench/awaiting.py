"""`python -m bench.awaiting`: workflows whose middle step waits on I/O, awaited or blocking.

The bench's throughput workload (the seed's 3-step workflow, N instances, time from the first
start to the last completion), with its middle step (AddNumbers) first waiting `--wait-ms`:

- `async`: ``async def run`` awaiting ``asyncio.sleep``, like a call through an async client;
  the host awaits it on its event loop
- `blocking`: ``def run`` calling ``time.sleep``, like a call through a blocking client; it
  holds one of the host's worker threads while it waits

On the library's default host options (4 workflow workers, `max_concurrent_async_steps` at
its default) unless `--host-options` says otherwise. Each measurement runs in a fresh process;
the variants take turns, round after round. Issue 17's target: 1,000 workflows with a 100 ms
awaited step complete in under 1.5 s (printed as PASS or MISS, not asserted).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import parse_host_options
from .report import announce
from .turns import in_fresh_process, report, take_turns, turns_parser

VARIANTS = ("async", "blocking")
RESULTS = Path(__file__).resolve().parent / "results" / "awaiting.json"
#: Issue 17: seconds for 1,000 workflows whose middle step awaits 100 ms.
TARGET_SECONDS = 1.5


def _wait_first(variant: str, seconds: float) -> None:
    """Make AddNumbers wait `seconds` first, awaiting or blocking (before the host registers it)."""
    from . import liteflow_flows

    add = liteflow_flows.AddNumbers.run
    if variant == "async":

        async def awaiting_run(self: Any, context: Any) -> Any:
            await asyncio.sleep(seconds)
            return add(self, context)

        liteflow_flows.AddNumbers.run = awaiting_run  # type: ignore[assignment,method-assign]
    else:

        def blocking_run(self: Any, context: Any) -> Any:
            time.sleep(seconds)
            return add(self, context)

        liteflow_flows.AddNumbers.run = blocking_run  # type: ignore[method-assign]


def child(variant: str, system: str, count: int, options: dict[str, Any], wait_ms: float) -> dict[str, Any]:
    """One measurement, in this process."""
    from .liteflow_driver import LiteFlowWorkloads, WorkflowInstance
    from .liteflow_flows import RECORDER

    _wait_first(variant, wait_ms / 1000)
    with tempfile.TemporaryDirectory(prefix="liteflow-awaiting-") as workdir:
        spec = {"system": system, "count": count, "timeout": 300, "workdir": workdir, "options": options}
        return LiteFlowWorkloads(RECORDER, WorkflowInstance.COMPLETE).throughput(spec)


def measure(variant: str, system: str, count: int, options: dict[str, Any], wait_ms: float) -> float:
    """Seconds from the first start to the last completion, in a fresh process."""
    arguments = [variant, system, str(count), json.dumps(options), str(wait_ms)]
    metrics = in_fresh_process("bench.awaiting", arguments, f"{variant} on {system}")
    if metrics.get("wrong") or metrics["completed"] != count:
        raise RuntimeError(f"{variant} on {system}: {metrics}")
    return float(metrics["seconds"])


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    parser = turns_parser("bench.awaiting", __doc__, VARIANTS, 1000, 3)
    parser.add_argument(
        "--wait-ms", type=float, default=100.0, help="the middle step's wait (default %(default)s)"
    )
    parser.add_argument(
        "--host-options",
        default="defaults",
        help="e.g. max_concurrent_async_steps=100 (default: the library's)",
    )
    args = parser.parse_args(given)
    if args.child:
        variant, system, count, options, wait_ms = args.child
        print(json.dumps(child(variant, system, int(count), json.loads(options), float(wait_ms))))
        return 0
    command, info = announce("LiteFlow awaited-steps bench", "bench.awaiting", given)
    options = parse_host_options(args.host_options)
    seconds = take_turns(
        args,
        lambda variant, system: measure(variant, system, args.count, options, args.wait_ms),
        lambda taken: f"{taken:7.2f} s",
    )
    body = []
    verdicts = []
    for (system, variant), values in seconds.items():
        median = statistics.median(values)
        body.append([system, variant, f"{median:.2f}", f"{min(values):.2f}", f"{args.count / median:,.0f}"])
        if variant == "async" and args.count == 1000 and args.wait_ms == 100 and not options:
            verdict = "PASS" if median < TARGET_SECONDS else "MISS"
            verdicts.append(
                f"  {verdict} {system}: 1,000 awaiting workflows in {median:.2f} s (target < 1.5 s)"
            )
    report(
        (["system", "variant", "median s", "best s", "workflows/s"], body),
        verdicts,
        RESULTS,
        (command, info),
        count=args.count,
        wait_ms=args.wait_ms,
        options=options,
        seconds={f"{system}/{variant}": values for (system, variant), values in seconds.items()},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
