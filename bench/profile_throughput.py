"""Profile the throughput workload (a) in-process: `python -m bench.profile_throughput`.

Where `python -m bench` measures wall time, which the load of a shared machine moves by a
factor of two, this reports the process's CPU time per workflow (all threads) and, with
`--profile`, a cProfile of every thread merged: the numbers to compare before and after a
change to the engine's hot path.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from liteflow.core import WorkflowInstance, configure_workflow_host

from .liteflow_flows import MyData, ThreeStep
from .overhead import VARIANTS, install_variant
from .peers.driver_common import CompletionCounter
from .systems import SYSTEMS

__all__ = ["main"]


def _profile_threads(profiles: list[cProfile.Profile]) -> None:
    """Give every thread started from now on a profiler of its own (cProfile sees one thread)."""
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]


def _thread_times() -> dict[str, tuple[float, int]]:
    """Each live thread's CPU seconds and voluntary context switches so far, by name (Linux:
    read from /proc, in clock ticks of 10 ms; empty elsewhere). A thread that waits for a lock
    or for the interpreter lock gives up its core, so its switches count the hand-overs
    cProfile does not see."""
    if not os.path.isdir("/proc/self/task"):
        return {}
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    times: dict[str, tuple[float, int]] = {}
    for native_id, name in names.items():
        try:
            with open(f"/proc/self/task/{native_id}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{native_id}/status") as status:
                switches = next(
                    int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt_switches")
                )
        except (OSError, StopIteration):
            continue
        times[name] = ((int(fields[11]) + int(fields[12])) / tick, switches)
    return times


def _options(text: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        options[name] = int(value) if value.isdigit() else value
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--system", default="memory", choices=["memory", "sqlite", "postgres"])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--host-options", default="", help="e.g. max_concurrent_workflows=1")
    parser.add_argument(
        "--variant", default="plain", choices=VARIANTS, help="what bench.overhead installs (default: nothing)"
    )
    parser.add_argument(
        "--apart",
        action="store_true",
        help="start every workflow before the host runs, then time the host alone: "
        "what starting and what running cost, each without the other",
    )
    parser.add_argument(
        "--no-gate",
        action="store_true",
        help="every worker takes work at once (the worker gate of in-process stores set aside)",
    )
    parser.add_argument(
        "--threads",
        action="store_true",
        help="print each thread's CPU and voluntary context switches per workflow (Linux)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile every thread")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    profiles: list[cProfile.Profile] = []
    if args.profile:
        _profile_threads(profiles)
    with tempfile.TemporaryDirectory() as workdir:
        system = SYSTEMS[args.system]
        assert system.providers is not None
        providers, cleanup = system.providers(Path(workdir))
        host = configure_workflow_host(**providers, **_options(args.host_options))
        host.register_workflow(ThreeStep())
        counter = CompletionCounter(args.count)
        persistence = host.persistence_service
        persist = persistence.persist_changes

        def watched(changes: Any) -> None:
            persist(changes)
            if changes.workflow.status == WorkflowInstance.COMPLETE:
                counter.mark(changes.workflow.id)

        persistence.persist_changes = watched  # type: ignore[method-assign]
        if args.no_gate:
            persistence.runs_in_process = False  # the host gates workers only for in-process stores
        if args.apart:
            persistence.start()
        else:
            host.start()
            install_variant(args.variant, host)
        main_profile = cProfile.Profile(time.thread_time)
        if args.profile:
            profiles.append(main_profile)
            main_profile.enable()
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(args.count):
            host.start_workflow("ThreeStep", 1, MyData(n, 2))
        started, start_cpu = time.perf_counter() - wall, time.process_time() - cpu
        main_profile.disable()
        if args.apart:
            cpu, wall = time.process_time(), time.perf_counter()
            host.start()
            install_variant(args.variant, host)
        counter.done.wait(600)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        threads = _thread_times() if args.threads else {}
        host.stop(timeout=5)
        cleanup()
    what = f"{args.system} {args.variant} n={args.count} {args.host_options or 'defaults'}"
    if args.no_gate:
        what += " no gate"
    load = f"load {os.getloadavg()[0]:.1f}"
    if args.apart:
        print(
            f"{what}, apart: starts {started / args.count * 1e6:.0f} us each "
            f"(CPU {start_cpu / args.count * 1e6:.0f} us), then the host ran them at "
            f"{args.count / wall:,.0f} wf/s (CPU {cpu / args.count * 1e6:.0f} us/workflow), {load}"
        )
    else:
        print(
            f"{what}: {args.count / wall:,.0f} wf/s wall ({wall:.2f} s, starts {started:.2f} s), "
            f"CPU {cpu / args.count * 1e6:.0f} us/workflow, {load}"
        )
    for name, (seconds, switches) in sorted(threads.items(), key=lambda item: -item[1][0]):
        if seconds:
            print(
                f"  {name}: CPU {seconds / args.count * 1e6:.0f} us/workflow, "
                f"{switches / args.count:.2f} voluntary switches/workflow"
            )
    if args.profile:
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
