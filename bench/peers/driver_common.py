"""Measurement helpers shared by every driver process, standard library only.

The peers' drivers run inside their own virtualenvs (the original's package name clashes with
ours), so this module must not import `bench` or `liteflow`: a driver executed as a script
finds it on sys.path[0], our own driver imports it as `bench.peers.driver_common`.
Protocol: a driver gets one JSON spec as argv[1] and prints one line
``BENCH-RESULT {json}`` on stdout; everything else it prints is ignored.
"""

from __future__ import annotations

import gc
import json
import math
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

RESULT_PREFIX = "BENCH-RESULT "

Spec = dict[str, Any]
Metrics = dict[str, Any]
_Item = TypeVar("_Item")
_Started = TypeVar("_Started")


class WorkloadTimeoutError(Exception):
    """A workload ran past its own deadline; carries what it measured so far."""

    def __init__(self, message: str, partial: Metrics | None = None) -> None:
        super().__init__(message)
        self.partial = partial or {}


class UnsupportedWorkloadError(Exception):
    """The system cannot express this workload; the message says why."""


class Deadline:
    """A point in time after which a workload gives up and reports a timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()

    def expired(self) -> bool:
        return self.left() <= 0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 200 values is the 198th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: Iterable[float]) -> Metrics:
    """Median, p99, mean and extremes in milliseconds."""
    values = [value * 1000.0 for value in seconds]
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_ms": percentile(values, 0.5),
        "p99_ms": percentile(values, 0.99),
        "mean_ms": sum(values) / len(values),
        "min_ms": min(values),
        "max_ms": max(values),
    }


def rss_bytes() -> int:
    """Resident set size from /proc/self/statm (no psutil needed)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def settled_rss() -> int:
    """RSS after a full collection, so garbage does not count as retained memory."""
    gc.collect()
    time.sleep(0.2)
    gc.collect()
    return rss_bytes()


def memory_per_waiting(start_waiting: Callable[[list[str]], object], count: int, warm: int) -> Metrics:
    """RSS growth per waiting workflow: `warm` waiting first (so one-off costs are in the
    baseline), then `count` more. A run that hits its deadline still reports the growth per
    started workflow, marked partial, since every one of them was started and holds memory."""
    start_waiting([f"warm-{n}" for n in range(warm)])
    baseline = settled_rss()
    try:
        start_waiting([f"mem-{n}" for n in range(count)])
    except WorkloadTimeoutError as exc:
        loaded = settled_rss()
        exc.partial = {
            "waiting": count,
            "rss_baseline": baseline,
            "rss_loaded": loaded,
            "bytes_per_workflow": (loaded - baseline) / count,
            "note": "per started workflow; not all had reached their wait by the deadline",
        }
        raise
    loaded = settled_rss()
    return {
        "waiting": count,
        "rss_baseline": baseline,
        "rss_loaded": loaded,
        "bytes_per_workflow": (loaded - baseline) / count,
    }


def idle_cpu_percent(window: float) -> Metrics:
    """Process CPU time (all threads) over `window` seconds of wall time, as % of one core."""
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    time.sleep(window)
    cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
    return {"window_s": wall, "cpu_s": cpu, "cpu_percent": 100.0 * cpu / wall}


def wait_until(predicate: Callable[[], bool], deadline: Deadline, what: str, interval: float = 0.01) -> None:
    """Poll `predicate` until true; raise WorkloadTimeoutError naming `what` at the deadline."""
    while not predicate():
        if deadline.expired():
            raise WorkloadTimeoutError(f"timed out after {deadline.seconds:.0f} s waiting for {what}")
        time.sleep(interval)


def start_all(
    start: Callable[[_Item], _Started], items: Sequence[_Item], deadline: Deadline, what: str
) -> list[_Started]:
    """Start one workflow per item, giving up at the deadline (a slow system may not get far)."""
    started: list[_Started] = []
    for item in items:
        if deadline.expired():
            raise WorkloadTimeoutError(
                f"started only {len(started)} of {len(items)} {what} within {deadline.seconds:.0f} s",
                {"count": len(items), "started": len(started), "completed": 0, "seconds": deadline.seconds},
            )
        started.append(start(item))
    return started


class CompletionCounter:
    """Counts distinct finished workflows and stamps the moment the last expected one finished."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self._seen: set[Any] = set()
        self._lock = threading.Lock()
        self.done = threading.Event()
        self.finished_at: float | None = None

    def mark(self, key: Any) -> None:
        # A set's add is atomic: the systems' threads reporting at once do not queue on a
        # lock of the harness (which would slow the system measured).
        self._seen.add(key)
        if len(self._seen) >= self.expected:
            with self._lock:
                if self.finished_at is None:
                    self.finished_at = time.perf_counter()
                    self.done.set()

    @property
    def count(self) -> int:
        return len(self._seen)


class Recorder:
    """Times recorded by steps (keyed by workflow), with a wake-up per key for the waiter."""

    def __init__(self) -> None:
        self.times: dict[Any, float] = {}
        self._signals: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()

    def signal(self, key: Any) -> threading.Event:
        with self._lock:
            return self._signals.setdefault(key, threading.Event())

    def record(self, key: Any, value: float | None = None) -> None:
        self.times[key] = time.perf_counter() if value is None else value
        self.signal(key).set()


def throughput_metrics(count: int, completed: int, started_at: float, finished_at: float | None) -> Metrics:
    elapsed = (finished_at or time.perf_counter()) - started_at
    return {
        "count": count,
        "completed": completed,
        "seconds": elapsed,
        "per_second": completed / elapsed if elapsed > 0 else math.nan,
    }


def event_round_trips(
    publish: Callable[[str], object], keys: list[str], recorder: Recorder, deadline: Deadline, pace: float
) -> Metrics:
    """Publish one event per key and time each until its next step records the arrival.

    The next event goes out as soon as the previous one arrived, or after `pace` seconds if it
    has not: a fast system is measured one event at a time (pure latency), a slow one still
    gets every event within the deadline (events then overlap, which is its real behaviour).
    """
    published: dict[str, float] = {}
    for key in keys:
        arrived = recorder.signal(key)
        published[key] = time.perf_counter()
        publish(key)
        arrived.wait(pace)
        if deadline.expired():
            break
    while len(recorder.times) < len(published) and not deadline.expired():
        time.sleep(0.005)
    trips = [recorder.times[key] - sent for key, sent in published.items() if key in recorder.times]
    metrics = {**latency_summary(trips), "events": len(keys), "published": len(published)}
    metrics["lost"] = len(published) - len(trips)
    if len(trips) < len(keys):
        raise WorkloadTimeoutError(
            f"{len(trips)} of {len(keys)} events arrived within {deadline.seconds:.0f} s "
            f"({len(published)} published)",
            metrics,
        )
    return metrics


class HostWorkloads:
    """Every workload, for a host with LiteFlow's API (this project and the original share it:
    start_workflow, publish_event, a persistence provider with persist_workflow). A driver
    supplies the host and the few calls that differ, and passes `workloads()` to run_driver."""

    event_name = "bench-event"
    #: Why this engine's wait for an event cannot have a timeout; "" when it can.
    no_wait_timeout = ""
    #: The provider method every write of an instance goes through.
    write_method = "persist_workflow"

    def __init__(self, recorder: Recorder, complete_status: Any) -> None:
        self.recorder = recorder
        self.complete_status = complete_status

    # --- what differs between drivers -------------------------------------------------------

    def running_host(self, spec: Spec) -> AbstractContextManager[Any]:
        """A started host with the benchmark workflows registered."""
        raise NotImplementedError

    def persistence(self, host: Any) -> Any:
        raise NotImplementedError

    def three_step_data(self, n: int) -> Any:
        raise NotImplementedError

    def foreach_data(self, items: int, workflows: int) -> list[Any]:
        """Set the foreach's item count; return one data object per workflow."""
        raise NotImplementedError

    def key_data(self, key: str) -> Any:
        raise NotImplementedError

    def start_waiting(
        self, host: Any, keys: Sequence[str], deadline: Deadline, workflow_id: str = "WaitForEvent"
    ) -> None:
        """Start one `workflow_id` (WaitForEvent or TimedWaitForEvent) per key; return once
        every one has its subscription stored."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------

    def start_each(self, host: Any, workflow_id: str, keys: Sequence[str], deadline: Deadline) -> None:
        """Start one `workflow_id` per key, its data naming the key."""
        start = host.start_workflow
        start_all(lambda key: start(workflow_id, 1, self.key_data(key)), keys, deadline, workflow_id)

    def written_workflow(self, written: Any) -> Any:
        """The instance in the first argument of `write_method`."""
        return written

    def on_persist(self, host: Any, callback: Callable[[Any], None]) -> None:
        """Call `callback` after every stored instance: the only engine-neutral completion signal."""
        persistence = self.persistence(host)
        persist = getattr(persistence, self.write_method)

        def watched(written: Any, *args: Any, **kwargs: Any) -> None:
            persist(written, *args, **kwargs)
            callback(self.written_workflow(written))

        setattr(persistence, self.write_method, watched)

    def start_and_finish(
        self, host: Any, spec: Spec, workflow_id: str, datas: Sequence[Any]
    ) -> tuple[Metrics, list[Any]]:
        """Start one instance per data object, wait until all are complete; time first start to last."""
        deadline = Deadline(spec["timeout"])
        counter = CompletionCounter(len(datas))

        def completed(workflow: Any) -> None:
            if workflow.status == self.complete_status:
                counter.mark(workflow.id)

        self.on_persist(host, completed)
        started = time.perf_counter()
        ids = start_all(lambda data: host.start_workflow(workflow_id, 1, data), datas, deadline, "workflows")
        all_started = time.perf_counter()
        if not counter.done.wait(max(0.0, deadline.left())):
            partial = throughput_metrics(len(datas), counter.count, started, None)
            raise WorkloadTimeoutError(
                f"{counter.count} of {len(datas)} complete after {deadline.seconds:.0f} s", partial
            )
        metrics = throughput_metrics(len(datas), counter.count, started, counter.finished_at)
        metrics["start_seconds"] = all_started - started
        return metrics, ids

    def throughput(self, spec: Spec) -> Metrics:
        count = int(spec["count"])
        with self.running_host(spec) as host:
            datas = [self.three_step_data(n) for n in range(count)]
            metrics, ids = self.start_and_finish(host, spec, "ThreeStep", datas)
            sample = sorted({0, count - 1, *random.sample(range(count), min(50, count))})
            wrong = 0
            for n in sample:
                instance = self.persistence(host).get_workflow_instance(ids[n])
                if instance.status != self.complete_status or instance.data.value3 != n + 2:
                    wrong += 1
            metrics.update(verified=len(sample), wrong=wrong)
            return metrics

    def foreach(self, spec: Spec) -> Metrics:
        items, workflows = int(spec.get("items", 100)), int(spec.get("workflows", 1))
        datas = self.foreach_data(items, workflows)
        with self.running_host(spec) as host:
            metrics, _ = self.start_and_finish(host, spec, "ForEach100", datas)
            metrics.update(items=items, workflows=workflows)
            return metrics

    def event(self, spec: Spec, workflow_id: str = "WaitForEvent") -> Metrics:
        count = int(spec["count"])
        deadline = Deadline(spec["timeout"])
        keys = [f"key-{n}" for n in range(count)]
        with self.running_host(spec) as host:
            self.start_waiting(host, keys, deadline, workflow_id)
            time.sleep(float(spec.get("settle", 1.0)))  # let the last passes finish and release their locks
            return event_round_trips(
                lambda key: host.publish_event(self.event_name, key, "payload"),
                keys,
                self.recorder,
                deadline,
                float(spec.get("pace", 0.02)),
            )

    def timed_event(self, spec: Spec) -> Metrics:
        """The event round trip again, through a wait that has a timeout."""
        if self.no_wait_timeout:
            raise UnsupportedWorkloadError(self.no_wait_timeout)
        return self.event(spec, "TimedWaitForEvent")

    def sleep(self, spec: Spec) -> Metrics:
        count = int(spec["count"])
        deadline = Deadline(spec["timeout"])
        times = self.recorder.times
        with self.running_host(spec) as host:
            keys = [f"sleep-{n}" for n in range(count)]
            self.start_each(host, "SleepOnce", keys, deadline)
            try:
                wait_until(lambda: len(times) >= count, deadline, f"{count} wake-ups")
            except WorkloadTimeoutError as exc:
                exc.partial = {**latency_summary(list(times.values())), "workflows": count}
                raise
            lateness = list(times.values())
            early = sum(1 for value in lateness if value < 0)
            return {**latency_summary(lateness), "workflows": count, "early": early}

    def idle(self, spec: Spec) -> Metrics:
        count = int(spec["count"])
        deadline = Deadline(spec["timeout"])
        passes = [0]

        def stored(workflow: Any) -> None:
            passes[0] += 1

        with self.running_host(spec) as host:
            self.start_waiting(host, [f"idle-{n}" for n in range(count)], deadline)
            time.sleep(float(spec.get("settle", 1.0)))
            self.on_persist(host, stored)
            metrics = idle_cpu_percent(float(spec.get("window", 10.0)))
            metrics.update(waiting=count, persists_in_window=passes[0])
            return metrics

    def memory(self, spec: Spec) -> Metrics:
        deadline = Deadline(spec["timeout"])
        with self.running_host(spec) as host:
            return memory_per_waiting(
                lambda keys: self.start_waiting(host, keys, deadline),
                int(spec["count"]),
                int(spec.get("warm", 100)),
            )

    def workloads(self) -> dict[str, Callable[[Spec], Metrics]]:
        return {
            "throughput": self.throughput,
            "foreach": self.foreach,
            "event": self.event,
            "timed-event": self.timed_event,
            "sleep": self.sleep,
            "idle": self.idle,
            "memory": self.memory,
        }


def emit(result: Metrics) -> None:
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def run_driver(workloads: Mapping[str, Callable[[Spec], Metrics]], describe: Callable[[], Metrics]) -> None:
    """Run the workload named in the spec, print its result line, and exit hard.

    `os._exit` because a peer may leave non-daemon threads spinning (the original's consumers
    never stop); the result has been flushed by then.
    """
    spec: Spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    name = spec.get("workload", "")
    result: Metrics = {"workload": name, "spec": spec}
    try:
        result.update(describe())
        workload = workloads.get(name)
        if workload is None:
            raise UnsupportedWorkloadError(f"no workload {name!r} in this driver")
        result["metrics"] = workload(spec)
        result["status"] = "ok"
    except WorkloadTimeoutError as exc:
        result.update(status="timed out", error=str(exc), metrics=exc.partial)
    except UnsupportedWorkloadError as exc:
        result.update(status="unsupported", error=str(exc))
    except BaseException as exc:
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())
    emit(result)
    sys.stderr.flush()
    os._exit(0)
