"""Test side of the cluster runs: spawn host and driver processes, watch their journals, check
the outcome in the store, and always clean up (processes killed, server resources deleted)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import pytest

from liteflow.core import WorkflowInstance
from tests.cluster.node import ready_marker
from tests.cluster.stacks import STACKS, Run
from tests.cluster.workflow import (
    ClusterData,
    Execution,
    event_payload,
    expected_labels,
    expected_result,
    read_journals,
)
from tests.servers import require_azure, require_mongo, require_postgres, require_rabbitmq, require_redis
from tests.support import wait_until

__all__ = ["Cluster", "Outcome", "Process", "require_stack", "stack_unreachable"]

ROOT = Path(__file__).resolve().parents[2]
#: How often waits look at the journals; reading a few thousand lines takes about a millisecond.
POLL = 0.1
T = TypeVar("T")
LOST_LOCK = re.compile(r"lost the lock on workflow (\S+) during a pass")


def require_stack(stack_name: str) -> None:
    """Skip (or in CI fail) unless every server the stack uses answers."""
    stack = STACKS[stack_name]
    used = {stack.persistence, stack.queue, stack.lock}
    checks: dict[str, Callable[[], object]] = {
        "mongo": require_mongo,
        "rabbitmq": require_rabbitmq,
        "redlock": require_redis,
        "azure": require_azure,
        "postgres": require_postgres,
    }
    for kind, check in checks.items():
        if kind in used:
            check()


def stack_unreachable(stack_name: str) -> str | None:
    """Why the stack cannot run (the first server that does not answer), or None: `require_stack`
    for callers outside pytest, such as the cluster benchmark."""
    try:
        require_stack(stack_name)
    except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
        return str(outcome)
    return None


class Process:
    """A host or driver process and the file its output goes to."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


class Outcome:
    """What a run did: the stored instances (by index) and every journalled step execution."""

    def __init__(
        self, instances: list[WorkflowInstance], executions: list[Execution], lost_locks: set[str]
    ) -> None:
        #: Workflows whose lock a host reported lost mid-pass (that pass's steps run again).
        self.lost_locks = lost_locks
        self.by_index: dict[int, WorkflowInstance] = {}
        for instance in instances:
            data = instance.data
            assert isinstance(data, ClusterData), f"{instance.id} holds {data!r}"
            assert data.index not in self.by_index, f"two instances have index {data.index}"
            self.by_index[data.index] = instance
        self.executions = executions
        self.counts = Counter((execution.workflow_id, execution.label) for execution in executions)

    def assert_completed(self, indexes: range, laps: int) -> None:
        """Every instance is stored COMPLETE with the data its items, event and loop must give."""
        assert sorted(self.by_index) == list(indexes), "the store does not hold exactly the started instances"
        wrong = []
        for index, instance in self.by_index.items():
            data = instance.data
            assert isinstance(data, ClusterData)
            if (
                instance.status != WorkflowInstance.COMPLETE
                or data.payload != event_payload(index)
                or data.result != expected_result(index)
                or data.rounds != laps
                or not data.napped
            ):
                wrong.append(f"#{index} status={instance.status} {data}")
        assert not wrong, f"{len(wrong)} instance(s) incomplete or with wrong data, e.g. {wrong[:3]}"

    def step_counts(self, laps: int) -> dict[tuple[str, str], int]:
        """How often each expected step ran, plus any step that should not have run at all."""
        counts = {
            (instance.id, label): self.counts[instance.id, label]
            for index, instance in self.by_index.items()
            for label in expected_labels(index, laps)
        }
        for key, count in self.counts.items():
            counts.setdefault(key, -count)
        return counts

    def assert_each_step_ran_once(self, laps: int) -> None:
        wrong = {key: count for key, count in self.step_counts(laps).items() if count != 1}
        assert not wrong, (
            f"{len(wrong)} step(s) did not run exactly once ((workflow, step): runs; negative = "
            f"unexpected): {_sample(wrong)}; hosts reported losing the lock on {sorted(self.lost_locks)}"
        )

    def assert_each_step_ran(self, laps: int) -> None:
        missing = {key: count for key, count in self.step_counts(laps).items() if count < 1}
        assert not missing, f"{len(missing)} step(s) never ran or were unexpected: {_sample(missing)}"

    def repeated(self) -> dict[tuple[str, str], list[int]]:
        """Steps that ran more than once, with the pids that ran them."""
        pids: dict[tuple[str, str], list[int]] = {}
        for execution in self.executions:
            pids.setdefault((execution.workflow_id, execution.label), []).append(execution.pid)
        return {key: runs for key, runs in pids.items() if len(runs) > 1}


def _sample(mapping: dict[tuple[str, str], T], size: int = 5) -> str:
    return ", ".join(f"{key}: {value}" for key, value in list(mapping.items())[:size])


class Cluster:
    """The processes and server-side resources of one run; leaving the `with` block kills every
    process still running and deletes the run's database, queues and locks."""

    def __init__(self, stack_name: str, workdir: Path, fast_recovery: bool = False) -> None:
        require_stack(stack_name)
        workdir.mkdir(parents=True, exist_ok=True)
        self.run = Run(stack_name, uuid.uuid4().hex[:12], workdir, fast_recovery)
        self.hosts: list[Process] = []
        self._drivers: list[Process] = []
        self.run.create_server_resources()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        processes = [*self.hosts, *self._drivers]
        for each in processes:
            if each.process.poll() is None:
                each.process.kill()
        for each in processes:
            each.process.wait(timeout=10)
        self.run.remove_server_resources()

    def _command(self, *options: str) -> list[str]:
        run = self.run
        return [
            sys.executable,
            "-m",
            "tests.cluster.node",
            "--stack",
            run.stack_name,
            "--run-id",
            run.run_id,
            "--workdir",
            str(run.workdir),
            *(["--fast-recovery"] if run.fast_recovery else []),
            *options,
        ]

    def _spawn(self, name: str, *options: str) -> Process:
        log = self.run.workdir / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                self._command(*options), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output, stderr=output
            )
        return Process(process, log)

    def spawn_hosts(self, count: int) -> list[Process]:
        """Start `count` host processes and wait until each one runs its workers."""
        hosts = [self._spawn(f"host-{len(self.hosts) + n}") for n in range(count)]
        self.hosts.extend(hosts)
        self.wait(
            lambda: all(ready_marker(self.run.workdir, host.pid).exists() for host in hosts),
            30,
            "the hosts to start",
        )
        return hosts

    def launch_driver(self, *options: str) -> Process:
        """Start a driver process (``--start`` or ``--publish``); `finish` waits for it."""
        driver = self._spawn(f"driver-{len(self._drivers)}", *options)
        self._drivers.append(driver)
        return driver

    def finish(self, driver: Process, timeout: float = 120) -> None:
        code = driver.process.wait(timeout=timeout)
        assert code == 0, f"driver pid {driver.pid} exited with {code}:\n{driver.tail()}"

    def start_workflows(self, indexes: range, laps: int) -> None:
        self.finish(self.launch_driver("--start", f"{indexes.start}:{indexes.stop}", "--laps", str(laps)))

    def publish_events(self, indexes: range) -> Process:
        """Start publishing the events of `indexes` from another process; `finish` waits for it."""
        return self.launch_driver("--publish", f"{indexes.start}:{indexes.stop}")

    def executions(self) -> list[Execution]:
        return read_journals(self.run.workdir)

    def wait(self, condition: Callable[[], T], timeout: float, what: str, interval: float = POLL) -> T:
        """`wait_until`, failing at once (with its log) if a host that should run has exited."""

        def check() -> T:
            for host in self.hosts:
                code = host.process.poll()
                if code is not None and code not in (-signal.SIGKILL, 0):
                    raise AssertionError(f"host pid {host.pid} exited with {code}:\n{host.tail()}")
            return condition()

        try:
            return wait_until(check, timeout, interval, what)
        except AssertionError as error:
            logs = "\n".join(f"--- host pid {host.pid}:\n{host.tail()}" for host in self.hosts)
            raise AssertionError(f"{error}\n{logs}") from None

    def wait_for_executions(self, count: int, timeout: float = 60) -> None:
        self.wait(lambda: len(self.executions()) >= count, timeout, f"{count} step executions")

    def wait_for_outcome(self, indexes: range, timeout: float) -> Outcome:
        """Wait until every instance ran its last step and is stored COMPLETE; return the outcome."""
        self.wait(
            lambda: len({e.workflow_id for e in self.executions() if e.label == "finish"}) >= len(indexes),
            timeout,
            f"all {len(indexes)} instances to run their last step",
        )

        def stored_complete() -> list[WorkflowInstance]:
            """All instances once each is stored COMPLETE (its last step runs just before that)."""
            instances = self.stored_instances(len(indexes) + 1)
            finished = all(instance.status == WorkflowInstance.COMPLETE for instance in instances)
            return instances if finished and len(instances) >= len(indexes) else []

        # Loading every instance is costly on the MongoDB wire server: look less often.
        instances = self.wait(stored_complete, 30, "every instance to be stored COMPLETE", interval=0.5)
        return Outcome(instances, self.executions(), self.lost_locks())

    def lost_locks(self) -> set[str]:
        """Workflows whose lock a host reported lost during a pass (the engine logs it)."""
        return {match.group(1) for host in self.hosts for match in LOST_LOCK.finditer(host.output())}

    def wait_for_log(self, hosts: list[Process], pattern: str, timeout: float = 30) -> None:
        """Wait until each of `hosts` has logged something matching `pattern` (a regex)."""
        expression = re.compile(pattern)
        self.wait(
            lambda: all(expression.search(host.output()) for host in hosts),
            timeout,
            f"every host to log {pattern!r}",
        )

    def stored_instances(self, limit: int) -> list[WorkflowInstance]:
        persistence = self.run.persistence()
        try:
            return persistence.get_workflow_instances(take=limit)
        finally:
            persistence.close()

    def kill(self, host: Process) -> None:
        host.process.send_signal(signal.SIGKILL)
        host.process.wait(timeout=10)

    def stop(self, *hosts: Process, timeout: float = 30) -> None:
        """SIGTERM: each host finishes its running passes, stops, and exits 0 (all at once)."""
        for host in hosts:
            host.process.send_signal(signal.SIGTERM)
        for host in hosts:
            code = host.process.wait(timeout=timeout)
            assert code == 0, f"host pid {host.pid} exited with {code} after SIGTERM:\n{host.tail()}"
