"""Server faults during a cluster run (issue 7): the engine rides them out.

Three hosts on SQLite + RabbitMQ + Redlock. The RabbitMQ broker is stopped and started again
mid-run, or one of the three Redis servers is down for the rest of the run; either way every
instance completes with correct data and each step runs exactly once (the store and the locks
are intact, so a redelivered or re-queued id only costs a look at an instance that is not due).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.cluster.harness import Cluster
from tests.servers import require_rabbitmq_control, require_redis_control, stopped_rabbitmq, stopped_redis

__all__: list[str] = []

pytestmark = [pytest.mark.slow, pytest.mark.integration]

STACK = "sqlite+rabbitmq+redlock"
INSTANCES = range(150)
LAPS = 1
TIMEOUT = 120


def test_workflows_complete_across_a_rabbitmq_restart(tmp_path: Path) -> None:
    url = require_rabbitmq_control()
    with Cluster(STACK, tmp_path) as cluster:
        hosts = cluster.spawn_hosts(3)
        cluster.start_workflows(INSTANCES, LAPS)
        cluster.wait_for_executions(len(INSTANCES))
        with stopped_rabbitmq(url):
            cluster.wait_for_log(hosts, r"WARNING RabbitMQ at \S+: .*reconnecting")
        cluster.finish(cluster.publish_events(INSTANCES))
        outcome = cluster.wait_for_outcome(INSTANCES, TIMEOUT)

    outcome.assert_completed(INSTANCES, LAPS)
    outcome.assert_each_step_ran_once(LAPS)


def test_locks_still_exclude_with_one_of_three_redis_servers_down(tmp_path: Path) -> None:
    down = require_redis_control()[1]
    with Cluster(STACK, tmp_path) as cluster:
        hosts = cluster.spawn_hosts(3)
        cluster.start_workflows(INSTANCES, LAPS)
        cluster.wait_for_executions(len(INSTANCES))
        with stopped_redis(down):
            cluster.finish(cluster.publish_events(INSTANCES))
            outcome = cluster.wait_for_outcome(INSTANCES, TIMEOUT)
            port = urlsplit(down).port
            cluster.wait_for_log(hosts, rf"WARNING Redis server \S*:{port}\S* is failing", timeout=1)

    outcome.assert_completed(INSTANCES, LAPS)
    outcome.assert_each_step_ran_once(LAPS)
