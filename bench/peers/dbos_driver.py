"""Driver for DBOS Transact on its SQLite system database, run with the python of bench/.envs/dbos.

Same workloads as the LiteFlow drivers, in DBOS's own idiom: a @DBOS.workflow calling
@DBOS.step functions, started with DBOS.start_workflow; events are DBOS.send/DBOS.recv on a
topic (the workflow id is the key); timers are DBOS.sleep; a foreach is a loop of steps (DBOS
has no parallel foreach primitive inside a workflow).

Three storage variants: "default" is DBOS as shipped (SQLite rollback journal, synchronous=FULL:
several fsyncs per commit); "wal" gives DBOS the settings LiteFlow's SQLite provider uses (WAL,
synchronous=NORMAL) through its documented `system_database_engine` option, so the durable
comparison can also be made at equal durability; "postgres" is DBOS on the PostgreSQL server
at the spec's `postgres_url`, in a database of its own that is dropped afterwards.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig
from driver_common import (
    Deadline,
    Metrics,
    Recorder,
    Spec,
    WorkloadTimeoutError,
    event_round_trips,
    idle_cpu_percent,
    latency_summary,
    memory_per_waiting,
    run_driver,
    start_all,
    throughput_metrics,
    wait_until,
)

RECORDER = Recorder()
READY: set[str] = set()
READY_LOCK = threading.Lock()
TOPIC = "bench-event"
SLEEP_SECONDS = 0.1
#: DBOS.recv always has a timeout (60 s unless given): an hour for the event round trip, two
#: days (LiteFlow's TimedWaitForEvent) for the round trip through a wait with a timeout.
RECV_TIMEOUT_SECONDS = 3600.0
TIMED_RECV_TIMEOUT_SECONDS = 2 * 24 * 3600.0


@DBOS.step()
def hello() -> None:
    return None


@DBOS.step()
def add_numbers(input1: int, input2: int) -> int:
    return input1 + input2


@DBOS.step()
def goodbye() -> None:
    return None


@DBOS.workflow()
def three_step(value1: int, value2: int) -> int:
    hello()
    value3 = add_numbers(value1, value2)
    goodbye()
    return value3


@DBOS.step()
def do_stuff(item: int) -> None:
    return None


@DBOS.workflow()
def foreach_items(items: int) -> None:
    hello()
    for item in range(items):
        do_stuff(item)
    goodbye()


@DBOS.step()
def record_arrival(key: str) -> None:
    RECORDER.record(key)


@DBOS.workflow()
def wait_for_event(key: str, timeout_seconds: float) -> None:
    hello()
    with READY_LOCK:
        READY.add(key)
    DBOS.recv(TOPIC, timeout_seconds=timeout_seconds)
    record_arrival(key)


@DBOS.step()
def record_wake(key: str, due: float) -> None:
    RECORDER.record(key, time.perf_counter() - due)


@DBOS.workflow()
def sleep_once(key: str) -> None:
    due = time.perf_counter() + SLEEP_SECONDS
    DBOS.sleep(SLEEP_SECONDS)
    record_wake(key, due)


def wal_engine(database: Path) -> Any:
    """A SQLAlchemy engine like DBOS's own SQLite engine, plus WAL and synchronous=NORMAL."""
    import sqlalchemy
    from sqlalchemy import event

    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = "IMMEDIATE"
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return engine


#: What to drop once the workload is done: (server URL, database name) of the postgres variant.
CREATED: list[tuple[str, str]] = []


def postgres_database(server_url: str) -> str:
    """The URL of a database of this run's own on `server_url` (DBOS creates it at launch);
    `dropping_its_database` drops it after the workload."""
    from sqlalchemy.engine import make_url

    name = f"dbos_bench_{uuid.uuid4().hex[:12]}"
    CREATED.append((server_url, name))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def dropping_its_database(workload: Callable[[Spec], Metrics]) -> Callable[[Spec], Metrics]:
    """The workload, then DBOS shut down and the database it made dropped (the driver exits
    with os._exit, which runs no atexit hook)."""

    def run(spec: Spec) -> Metrics:
        try:
            return workload(spec)
        finally:
            if CREATED:
                import psycopg

                DBOS.destroy()
                for server_url, name in CREATED:
                    with psycopg.connect(server_url, autocommit=True) as connection:
                        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return run


def launch(spec: Spec) -> None:
    database = Path(spec["workdir"]) / "dbos-system.sqlite"
    config: DBOSConfig = {
        "name": "liteflow-bench",
        "system_database_url": f"sqlite:///{database}",
        "log_level": "WARNING",
    }
    if spec.get("variant") == "wal":
        config["system_database_engine"] = wal_engine(database)
    if spec.get("variant") == "postgres":
        config["system_database_url"] = postgres_database(spec["postgres_url"])
    DBOS(config=config)
    DBOS.launch()
    logging.getLogger("dbos").setLevel(logging.WARNING)


def wait_all(handles: list[Any], deadline: Deadline, started: float) -> tuple[list[Any], float]:
    """Collect every result; the last one returning marks the end of the run."""
    results = []
    for done, handle in enumerate(handles):
        if deadline.expired():
            partial = throughput_metrics(len(handles), done, started, None)
            raise WorkloadTimeoutError(
                f"{done} of {len(handles)} complete after {deadline.seconds:.0f} s", partial
            )
        results.append(handle.get_result())
    return results, time.perf_counter()


def throughput(spec: Spec) -> Metrics:
    count = int(spec["count"])
    deadline = Deadline(spec["timeout"])
    launch(spec)
    started = time.perf_counter()
    handles = start_all(lambda n: DBOS.start_workflow(three_step, n, 2), range(count), deadline, "workflows")
    all_started = time.perf_counter()
    results, finished = wait_all(handles, deadline, started)
    metrics = throughput_metrics(count, len(results), started, finished)
    sample = sorted({0, count - 1, *random.sample(range(count), min(50, count))})
    wrong = sum(1 for n in sample if results[n] != n + 2)
    metrics.update(start_seconds=all_started - started, verified=len(sample), wrong=wrong)
    return metrics


def foreach(spec: Spec) -> Metrics:
    items = int(spec.get("items", 100))
    workflows = int(spec.get("workflows", 1))
    deadline = Deadline(spec["timeout"])
    launch(spec)
    started = time.perf_counter()
    handles = start_all(
        lambda _: DBOS.start_workflow(foreach_items, items), range(workflows), deadline, "workflows"
    )
    results, finished = wait_all(handles, deadline, started)
    metrics = throughput_metrics(workflows, len(results), started, finished)
    metrics.update(items=items, workflows=workflows, note="a sequential loop of steps")
    return metrics


def start_waiting(
    keys: list[str], deadline: Deadline, timeout_seconds: float = RECV_TIMEOUT_SECONDS
) -> dict[str, str]:
    """Start one recv-ing workflow per key; return key -> workflow id once all reached recv."""
    handles = start_all(
        lambda key: DBOS.start_workflow(wait_for_event, key, timeout_seconds), keys, deadline, "workflows"
    )
    ids = {key: handle.get_workflow_id() for key, handle in zip(keys, handles, strict=True)}
    wait_until(lambda: READY.issuperset(keys), deadline, f"{len(keys)} workflows to reach recv")
    return ids


def event(spec: Spec, timeout_seconds: float = RECV_TIMEOUT_SECONDS) -> Metrics:
    count = int(spec["count"])
    deadline = Deadline(spec["timeout"])
    launch(spec)
    keys = [f"key-{n}" for n in range(count)]
    ids = start_waiting(keys, deadline, timeout_seconds)
    time.sleep(float(spec.get("settle", 1.0)))  # let the last passes finish and release their locks
    return event_round_trips(
        lambda key: DBOS.send(ids[key], "payload", TOPIC),
        keys,
        RECORDER,
        deadline,
        float(spec.get("pace", 0.02)),
    )


def timed_event(spec: Spec) -> Metrics:
    """Every recv has a timeout: this is the same round trip with LiteFlow's two-day one."""
    return event(spec, TIMED_RECV_TIMEOUT_SECONDS)


def sleep(spec: Spec) -> Metrics:
    count = int(spec["count"])
    deadline = Deadline(spec["timeout"])
    launch(spec)
    keys = [f"sleep-{n}" for n in range(count)]
    start_all(lambda key: DBOS.start_workflow(sleep_once, key), keys, deadline, "sleepers")
    try:
        wait_until(lambda: len(RECORDER.times) >= count, deadline, f"{count} wake-ups")
    except WorkloadTimeoutError as exc:
        exc.partial = {**latency_summary(list(RECORDER.times.values())), "workflows": count}
        raise
    lateness = list(RECORDER.times.values())
    return {**latency_summary(lateness), "workflows": count, "early": sum(1 for v in lateness if v < 0)}


def idle(spec: Spec) -> Metrics:
    count = int(spec["count"])
    deadline = Deadline(spec["timeout"])
    launch(spec)
    start_waiting([f"idle-{n}" for n in range(count)], deadline)
    time.sleep(float(spec.get("settle", 1.0)))
    metrics = idle_cpu_percent(float(spec.get("window", 10.0)))
    metrics.update(waiting=count, threads=threading.active_count())
    return metrics


def memory(spec: Spec) -> Metrics:
    deadline = Deadline(spec["timeout"])
    launch(spec)
    metrics = memory_per_waiting(
        lambda keys: start_waiting(keys, deadline), int(spec["count"]), int(spec.get("warm", 100))
    )
    metrics["threads"] = threading.active_count()
    return metrics


def describe() -> Metrics:
    from importlib.metadata import version

    return {"version": f"dbos {version('dbos')}, SQLAlchemy {version('sqlalchemy')}"}


if __name__ == "__main__":
    workloads = {
        "throughput": throughput,
        "foreach": foreach,
        "event": event,
        "timed-event": timed_event,
        "sleep": sleep,
        "idle": idle,
        "memory": memory,
    }
    run_driver({name: dropping_its_database(workload) for name, workload in workloads.items()}, describe)
