"""`python -m bench.cluster`: completed workflows/s of a cluster of 1, 2 and 3 host processes on
each multi-node provider stack (issues 6 and 7), so stacks and host counts compare in one run.

Every run gets a fresh run id (its own database, queues and lock names, see
tests/cluster/stacks.py) and spawns its hosts with the cluster tests' harness
(tests/cluster/harness.py, tests/cluster/node.py). Once every host is ready, one driver process
starts N three-step workflows (bench's ThreeStep shape, journalled: `ThreeStepWorkflow`) from
several threads. The time runs from the driver's first start to the last completion: the moment
the last "goodbye" line was written to a host's journal (the journals' modification time,
watched every 0.1 s, so the store is not polled). Then the journals must show each step of each
workflow run exactly once and a sample read from the store must be COMPLETE with the right sum.
Hosts are stopped with SIGTERM; the run's server resources are deleted also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from liteflow.core import WorkflowInstance
from tests.cluster.harness import Cluster, Process, stack_unreachable
from tests.cluster.node import drive_result
from tests.cluster.stacks import LONG_LEASES, POLL_INTERVALS, STACKS
from tests.cluster.workflow import THREE_STEP_LABELS, Execution, ThreeStepData, three_step_data

from .config import parse_ints, parse_names
from .report import announce, format_table, machine

RESULTS = Path(__file__).resolve().parent / "results" / "cluster.json"
DEFAULT_STACKS = ("mongo+azure", "mongo+rabbitmq+redlock", "sqlite+rabbitmq+redlock", "postgres")
DEFAULT_HOSTS = (1, 2, 3)
#: Workflows per run by store: the MongoDB wire server of scripts/ answers one request at a
#: time, so its stacks manage tens of workflows/s. These counts make each run last 5-20 s (long
#: against the 2-4 s ramp up and down) and the default run (9 runs) about 2 minutes on the idle
#: 2-core test machine, up to 4 under load.
DEFAULT_WORKFLOWS = {"mongo": 300, "sqlite": 1500, "postgres": 2000}
#: The driver's calls at once: with 8, SQLite + RabbitMQ runs were paced by the driver.
DRIVER_THREADS = 16
#: Instances read back from the store per run (all of them would load the slow store for long).
SAMPLE = 20
LAST_STEP = THREE_STEP_LABELS[-1]
#: A driver whose starts took at least this share of the run set its pace, not the hosts.
DRIVER_BOUND = 0.9
#: A run with this long (s) without a completion keeps its folder for a look at the logs.
STALL = 10.0


@dataclass
class RunResult:
    """One stack at one host count; `status` is "ok" or why the run failed."""

    stack: str
    hosts: int
    workflows: int
    status: str = "ok"
    seconds: float = 0.0
    per_second: float = 0.0
    driver_seconds: float = 0.0
    driver_per_second: float = 0.0
    #: Step executions per host process: how evenly the queue spread the work.
    steps_per_host: list[int] = field(default_factory=list)
    #: The longest time (s) between two completions, as seen every 0.1 s.
    longest_gap: float = 0.0
    wall_seconds: float = 0.0
    #: The run's folder (host logs, journals), kept only when the run failed or stalled.
    logs: str = ""

    @property
    def driver_bound(self) -> bool:
        return self.status == "ok" and self.driver_seconds >= DRIVER_BOUND * self.seconds


def finished(executions: list[Execution]) -> set[str]:
    """Workflows whose last step ran."""
    return {execution.workflow_id for execution in executions if execution.label == LAST_STEP}


def check_steps(executions: list[Execution], workflows: int, lost_locks: set[str]) -> set[str]:
    """Exactly `workflows` workflows ran, each of their steps exactly once; returns their ids."""
    ids = {execution.workflow_id for execution in executions}
    assert len(ids) == workflows, f"{len(ids)} workflows ran steps, {workflows} were started"
    counts = Counter((execution.workflow_id, execution.label) for execution in executions)
    expected = {(workflow_id, label) for workflow_id in ids for label in THREE_STEP_LABELS}
    wrong = {key: counts[key] for key in expected | set(counts) if counts[key] != 1 or key not in expected}
    assert not wrong, (
        f"{len(wrong)} step(s) did not run exactly once ((workflow, step): runs): {list(wrong.items())[:5]}; "
        f"hosts reported losing the lock on {sorted(lost_locks)[:5]}"
    )
    return ids


def check_stored(cluster: Cluster, ids: set[str], wait_ms: int) -> None:
    """A sample of the workflows is stored COMPLETE with value3 = value1 + value2 of its own index
    (the last step's journal line is written just before its instance is stored: wait a little)."""
    sample = random.sample(sorted(ids), min(SAMPLE, len(ids)))
    persistence = cluster.run.persistence()
    try:

        def stored_complete() -> list[WorkflowInstance]:
            found = [persistence.get_workflow_instance(workflow_id) for workflow_id in sample]
            done = [each for each in found if each is not None and each.status == WorkflowInstance.COMPLETE]
            return done if len(done) == len(sample) else []

        instances = cluster.wait(stored_complete, 30, f"a sample of {len(sample)} to be stored COMPLETE", 0.5)
    finally:
        persistence.close()
    for instance in instances:
        data = instance.data
        assert isinstance(data, ThreeStepData), f"{instance.id} holds {data!r}"
        expected = three_step_data(data.index, wait_ms)
        expected.value3 = expected.value1 + expected.value2
        assert data == expected, f"{instance.id} holds {data}, expected {expected}"


class Completion:
    """The wait's condition: all workflows ran their last step (fails at once if the driver
    failed). Remembers the longest time between two completions: a stall, e.g. work left for
    the poller, would otherwise only show as a low rate."""

    def __init__(self, cluster: Cluster, driver: Process, workflows: int) -> None:
        self.cluster = cluster
        self.driver = driver
        self.workflows = workflows
        self.done = 0
        self.since = 0.0
        self.longest_gap = 0.0

    def __call__(self) -> bool:
        code = self.driver.process.poll()
        if code not in (None, 0):
            raise AssertionError(f"the driver exited with {code}:\n{self.driver.tail()}")
        done = len(finished(self.cluster.executions()))
        if done > self.done:
            now = time.monotonic()
            if self.done:
                self.longest_gap = max(self.longest_gap, now - self.since)
            self.done, self.since = done, now
        return done >= self.workflows


def _one_line(error: Exception) -> str:
    """The first line of an error and, when it goes on (a log tail), its last line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [repr(error)]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


def measure(stack: str, hosts: int, workflows: int, threads: int, wait_ms: int, timeout: float) -> RunResult:
    """One run; a failure is recorded in the result (its folder kept), Ctrl-C propagates."""
    result = RunResult(stack, hosts, workflows)
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"liteflow-cluster-bench-{stack.replace('+', '-')}-{hosts}-"))
    try:
        with Cluster(stack, workdir) as cluster:
            processes = cluster.spawn_hosts(hosts)
            driver = cluster.launch_driver(
                "--start",
                f"0:{workflows}",
                "--workflow",
                "three-step",
                "--threads",
                str(threads),
                "--wait-ms",
                str(wait_ms),
            )
            completion = Completion(cluster, driver, workflows)
            cluster.wait(completion, timeout, f"all {workflows} workflows to run their last step")
            last = max(path.stat().st_mtime for path in workdir.glob("journal-*.log"))
            cluster.finish(driver)
            drove = drive_result(driver.output())
            assert drove is not None, f"the driver printed no result:\n{driver.tail()}"
            executions = cluster.executions()
            ids = check_steps(executions, workflows, cluster.lost_locks())
            check_stored(cluster, ids, wait_ms)
            cluster.stop(*processes)
        result.seconds = last - drove.first
        result.per_second = workflows / result.seconds
        result.driver_seconds = drove.last - drove.first
        result.driver_per_second = drove.calls / result.driver_seconds
        per_pid = Counter(execution.pid for execution in executions)
        result.steps_per_host = [per_pid[process.pid] for process in processes]
        result.longest_gap = completion.longest_gap
        if result.longest_gap >= STALL:
            result.logs = str(workdir)
    except Exception as error:
        result.status = f"FAILED: {_one_line(error)}"
        result.logs = str(workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    else:
        if not result.logs:
            shutil.rmtree(workdir, ignore_errors=True)
    result.wall_seconds = time.perf_counter() - began
    return result


def summary(result: RunResult) -> str:
    if result.status != "ok":
        return f"    -> {result.status} (logs: {result.logs}) [{result.wall_seconds:.0f} s]"
    return (
        f"    -> {result.per_second:,.1f} workflows/s ({result.workflows} in {result.seconds:.2f} s); "
        f"driver {result.driver_per_second:,.1f} starts/s ({result.driver_seconds:.2f} s); "
        f"steps per host {'/'.join(map(str, result.steps_per_host))}; "
        f"longest gap between completions {result.longest_gap:.1f} s"
        + (f" (a stall: logs kept in {result.logs})" if result.logs else "")
        + f" [{result.wall_seconds:.0f} s]"
    )


def table(results: list[RunResult]) -> str:
    """The runs side by side, then the failures' reasons and the driver footnote."""
    header = [
        "stack",
        "hosts",
        "workflows",
        "seconds",
        "wf/s",
        "vs 1 host",
        "driver starts/s",
        "driver s",
        "max gap s",
    ]
    one_host = {r.stack: r.per_second for r in results if r.hosts == 1 and r.status == "ok"}
    body = []
    for r in results:
        if r.status != "ok":
            body.append([r.stack, str(r.hosts), str(r.workflows), "FAILED", *["-"] * 5])
            continue
        ratio = f"{r.per_second / one_host[r.stack]:.2f}x" if r.stack in one_host else "-"
        driver = f"{r.driver_per_second:,.1f}" + ("*" if r.driver_bound else "")
        numbers = [f"{r.seconds:.2f}", f"{r.per_second:,.1f}", ratio, driver, f"{r.driver_seconds:.2f}"]
        numbers.append(f"{r.longest_gap:.1f}")
        body.append([r.stack, str(r.hosts), str(r.workflows), *numbers])
    lines = [format_table(header, body)]
    lines += [f"  {r.stack}, {r.hosts} host(s): {r.status}" for r in results if r.status != "ok"]
    if any(r.driver_bound for r in results):
        lines.append(
            f"* the driver's starts took >= {DRIVER_BOUND:.0%} of the run: it, not the hosts, set the pace"
        )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    stacks = tuple(STACKS)
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stacks",
        type=lambda text: parse_names(text, stacks, "stack"),
        default=list(DEFAULT_STACKS),
        help=f"comma-separated, of {', '.join(stacks)} (default: {','.join(DEFAULT_STACKS)})",
    )
    parser.add_argument(
        "--hosts", type=parse_ints, default=list(DEFAULT_HOSTS), help="host counts (default: 1,2,3)"
    )
    parser.add_argument(
        "--workflows",
        type=int,
        help="workflows per run, every stack (default by store: "
        + ", ".join(f"{store} {n}" for store, n in DEFAULT_WORKFLOWS.items())
        + ")",
    )
    parser.add_argument(
        "--threads", type=int, default=DRIVER_THREADS, help=f"driver threads (default {DRIVER_THREADS})"
    )
    parser.add_argument(
        "--step-wait-ms",
        type=int,
        default=0,
        help="how long the middle step waits, standing for a call to another service (default 0: no I/O)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds a run may take to complete (default 120)"
    )
    return parser


def write_json(document: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(given)
    if any(count < 1 for count in args.hosts) or (args.workflows is not None and args.workflows < 1):
        parser().error("host counts and --workflows must be >= 1")
    if args.step_wait_ms < 0:
        parser().error("--step-wait-ms must be >= 0")
    started_wall, started = time.time(), time.perf_counter()
    command, info = announce("LiteFlow cluster bench", "bench.cluster", given)
    skipped: dict[str, str] = {}
    for stack in args.stacks:
        reason = stack_unreachable(stack)
        if reason:
            skipped[stack] = reason
        print(f"  {stack:<24} {'SKIPPED: ' + reason if reason else 'ready'}")
    results: list[RunResult] = []
    interrupted = False
    try:
        for stack in (name for name in args.stacks if name not in skipped):
            workflows = args.workflows or DEFAULT_WORKFLOWS[STACKS[stack].persistence]
            for hosts in args.hosts:
                waits = f", the middle step waiting {args.step_wait_ms} ms" if args.step_wait_ms else ""
                print(f"\n{stack}, {hosts} host(s), {workflows} workflows{waits}", flush=True)
                result = measure(stack, hosts, workflows, args.threads, args.step_wait_ms, args.timeout)
                results.append(result)
                print(summary(result), flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: the run in progress was cleaned up; results so far follow")
    text = table(results)
    print("\n" + text)
    for stack, reason in skipped.items():
        print(f"  (not run: {stack}: {reason})")
    load_at_end = machine()["load_average"]
    write_json(
        {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started_wall)),
            "command": command,
            "duration_s": round(time.perf_counter() - started, 1),
            "interrupted": interrupted,
            "machine": {
                **info,
                "load_average_at_start": info["load_average"],
                "load_average_at_end": load_at_end,
            },
            "settings": {
                "driver_threads": args.threads,
                "step_wait_ms": args.step_wait_ms,
                "poll_interval_s": {store: every.total_seconds() for store, every in POLL_INTERVALS.items()},
                "lock_lease_s": LONG_LEASES,
                "sample_checked": SAMPLE,
            },
            "skipped": skipped,
            "runs": [{**asdict(result), "driver_bound": result.driver_bound} for result in results],
            "table": text,
        }
    )
    print(f"\nresults: {RESULTS}")
    print(f"load average at the end: {load_at_end} (other processes share these cores)")
    print(f"total time: {time.perf_counter() - started:.0f} s")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
