"""RabbitMQ and Redis Redlock: a cluster node's queue and lock, with the state in SQLite.

Every host that shares the SQLite file (one machine), the RabbitMQ queues and the Redis
servers shares the workflows. Needs RabbitMQ at LITEFLOW_RABBITMQ_URL (default
amqp://guest:guest@127.0.0.1:5672/%2F) and Redis at LITEFLOW_REDIS_URLS (comma-separated, default
the three test servers of `bash scripts/services.sh start redis rabbitmq`), and the `rabbitmq`
and `redis` extras.
Prints "order received", "waiting for the warehouse...", "picked 3 items", then
"complete: 3 items picked".
"""

import os
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from liteflow.core import *
from liteflow_rabbitmq import RabbitMQQueueProvider
from liteflow_redis import RedlockProvider


class Order:
    def __init__(self):
        self.order_id = uuid.uuid4().hex
        self.picked = 0


class Pick(StepBody):
    def __init__(self):
        self.count = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"picked {self.count} items")
        return ExecutionResult.next()


class PickingWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(lambda context: print("order received"))\
            .wait_for('picked', lambda data, context: data.order_id)\
                .output('picked', lambda step: step.event_data)\
            .then(Pick)\
                .input('count', lambda data, context: data.picked)


rabbitmq = os.environ.get("LITEFLOW_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
redis = os.environ.get(
    "LITEFLOW_REDIS_URLS",
    "redis://127.0.0.1:6390/0,redis://127.0.0.1:6391/0,redis://127.0.0.1:6392/0",
)
with tempfile.TemporaryDirectory() as folder:
    persistence = SqlitePersistenceProvider(Path(folder) / "cluster.db")
    #Every host of the cluster uses the same queue prefix and the same Redis servers
    host = configure_workflow_host(
        persistence_service=persistence,
        queue_service=RabbitMQQueueProvider(rabbitmq, queue_prefix="liteflow-samples"),
        lock_service=RedlockProvider(redis.split(",")),
    )
    host.register_workflow(PickingWorkflow())
    host.start()
    try:
        order = Order()
        wid = host.start_workflow("PickingWorkflow", data=order)

        deadline = time.monotonic() + 10
        while not persistence.get_subscriptions('picked', order.order_id, datetime.max):
            if time.monotonic() > deadline:
                sys.exit("the workflow did not reach its wait_for step within 10 s")
            time.sleep(0.01)
        print("waiting for the warehouse...")

        host.publish_event('picked', order.order_id, 3)

        instance = host.wait_for_workflow(wid, timeout=10)
        print(f"complete: {instance.data.picked} items picked")
    finally:
        host.stop()
        persistence.close()
