"""Crash recovery on one SQLite file (issue 4, item 5).

A host process runs 200 workflows that loop over items, wait for an event, sleep and loop; it
is stopped mid-run, by SIGKILL or gracefully, and a new host process on the same file finishes
them. Steps run at least once: after a SIGKILL, steps whose results were not yet stored run
again, but no step whose result was stored does; after a graceful stop nothing runs twice.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from liteflow.core import ExecutionPointer, WorkflowInstance
from tests.cluster.harness import Cluster, Process
from tests.cluster.workflow import ClusterData, expected_labels

__all__: list[str] = []

pytestmark = pytest.mark.slow

INSTANCES = range(200)
#: Events of the first half are published before the stop, the rest only to the new host.
FIRST_HALF = range(100)
SECOND_HALF = range(100, 200)
LAPS = 3
#: Executions the first host can reach before the stop: all steps of the first half, and the
#: steps before the event wait of the second half.
REACHABLE = len(FIRST_HALF) * len(expected_labels(0, LAPS)) + len(SECOND_HALF) * 4


def stop_point() -> int:
    """A random moment after some progress and well before the first host runs out of work."""
    return random.randint(len(INSTANCES), REACHABLE - len(INSTANCES))


def first_host_midway(cluster: Cluster, executions: int) -> Process:
    """One host running every instance, with the first half's events published, once it has
    made `executions` step executions."""
    [first] = cluster.spawn_hosts(1)
    cluster.start_workflows(INSTANCES, LAPS)
    cluster.finish(cluster.publish_events(FIRST_HALF))
    cluster.wait_for_executions(executions)
    return first


def stored_results(instances: list[WorkflowInstance]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """Pointers stored COMPLETE, and sleeping pointers whose first run (the nap) was stored."""
    complete: set[tuple[str, str]] = set()
    slept: set[tuple[str, str]] = set()
    for instance in instances:
        for pointer in instance.execution_pointers:
            if pointer.status == ExecutionPointer.COMPLETE:
                complete.add((instance.id, pointer.id))
            elif pointer.persistence_data is not None:
                slept.add((instance.id, pointer.id))
    return complete, slept


def unfinished(instances: list[WorkflowInstance]) -> list[int]:
    indexes = []
    for instance in instances:
        assert isinstance(instance.data, ClusterData)
        if instance.status != WorkflowInstance.COMPLETE:
            indexes.append(instance.data.index)
    return indexes


def test_a_killed_host_is_resumed_by_a_new_one_without_rerunning_stored_steps(tmp_path: Path) -> None:
    kill_at = stop_point()
    with Cluster("sqlite", tmp_path) as cluster:
        first = first_host_midway(cluster, kill_at)
        cluster.kill(first)
        stored = cluster.stored_instances(len(INSTANCES))
        complete, slept = stored_results(stored)
        assert complete, f"nothing was stored before the SIGKILL at {kill_at} executions"
        assert unfinished(stored), f"every workflow finished before the SIGKILL at {kill_at} executions"

        [second] = cluster.spawn_hosts(1)
        cluster.finish(cluster.publish_events(SECOND_HALF))
        outcome = cluster.wait_for_outcome(INSTANCES, timeout=60)

    outcome.assert_completed(INSTANCES, LAPS)
    outcome.assert_each_step_ran(LAPS)
    after = [execution for execution in outcome.executions if execution.pid == second.pid]
    rerun = [
        execution
        for execution in after
        if (execution.workflow_id, execution.pointer_id) in complete
        or (execution.label == "nap:sleep" and (execution.workflow_id, execution.pointer_id) in slept)
    ]
    assert not rerun, (
        f"{len(rerun)} step(s) whose result was stored before the SIGKILL (at {kill_at} executions) "
        f"ran again on the new host, e.g. {rerun[:3]}"
    )


def test_a_gracefully_stopped_host_leaves_nothing_to_run_twice(tmp_path: Path) -> None:
    stop_at = stop_point()
    with Cluster("sqlite", tmp_path) as cluster:
        first = first_host_midway(cluster, stop_at)
        cluster.stop(first)
        assert unfinished(cluster.stored_instances(len(INSTANCES))), (
            f"every workflow finished before the stop at {stop_at} executions"
        )

        [second] = cluster.spawn_hosts(1)
        cluster.finish(cluster.publish_events(SECOND_HALF))
        outcome = cluster.wait_for_outcome(INSTANCES, timeout=60)

    outcome.assert_completed(INSTANCES, LAPS)
    outcome.assert_each_step_ran_once(LAPS)
    assert {execution.pid for execution in outcome.executions} == {first.pid, second.pid}
