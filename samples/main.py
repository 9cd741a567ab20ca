"""The main sample: a durable order workflow on SQLite that survives being stopped.

Run it; while the order waits for approval, press Ctrl-C; run it again: the workflow resumes
where it stopped (the steps already done are not repeated). The state lives in
liteflow-sample.db (or the file named by LITEFLOW_SAMPLE_DB); delete it to start afresh.
An approver "answers" after LITEFLOW_SAMPLE_APPROVAL_DELAY seconds (default 3).
"""

import os
import time
from datetime import timedelta

from liteflow.core import *

DATABASE = os.environ.get("LITEFLOW_SAMPLE_DB", "liteflow-sample.db")
APPROVAL_DELAY = float(os.environ.get("LITEFLOW_SAMPLE_APPROVAL_DELAY", "3"))


class Order:
    def __init__(self, number=0, amount=0):
        self.number = number
        self.amount = amount
        self.approved_by = None


class ReceiveOrder(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"order {context.workflow.data.number} received")


class ChargeCard(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"charged {context.workflow.data.amount} EUR")


class Ship(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"approved by {context.workflow.data.approved_by}: shipped")


class OrderWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(ReceiveOrder)\
            .then(ChargeCard)\
            .delay(lambda data, context: timedelta(milliseconds=500))\
            .wait_for("approval", lambda data, context: str(data.number))\
                .output("approved_by", lambda step: step.event_data)\
            .then(Ship)


def waiting_for_approval(host, workflow_id):
    instance = host.get_workflow_instance(workflow_id)
    return any(p.event_name == "approval" and not p.event_published for p in instance.execution_pointers)


host = configure_workflow_host(SqlitePersistenceProvider(DATABASE))
host.register_workflow(OrderWorkflow())
host.start()
try:
    unfinished = host.persistence_service.get_workflow_instances(
        status=WorkflowInstance.RUNNABLE, definition_id="OrderWorkflow")
    if unfinished:
        workflow_id = unfinished[0].id
        print(f"resuming order {unfinished[0].data.number} from {DATABASE}")
    else:
        print(f"starting order 42 in {DATABASE}")
        workflow_id = host.start_workflow("OrderWorkflow", data=Order(number=42, amount=99))

    while not waiting_for_approval(host, workflow_id):
        time.sleep(0.05)
    print("waiting for approval (Ctrl-C now stops it; run again to resume)")
    time.sleep(APPROVAL_DELAY)
    host.publish_event("approval", "42", "ann")

    host.wait_for_workflow(workflow_id, timeout=30)
    print("order complete")
except KeyboardInterrupt:
    print("stopped; run again to continue")
finally:
    host.stop()
