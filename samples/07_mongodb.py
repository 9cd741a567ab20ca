"""MongoDB persistence: a workflow waits for an approval event, its state stored in MongoDB.

Needs a MongoDB server at LITEFLOW_MONGO_URI (default mongodb://127.0.0.1:27018/, the test
server that `bash scripts/services.sh start mongo` runs) and the `mongo` extra (pymongo).
Prints "Hello Ann's Bakery", "waiting for approval...", "approved by ann, shipping", then
"stored in MongoDB: complete, approved by ann".
"""

import os
import sys
import time
import uuid
from datetime import datetime

from liteflow.core import *
from liteflow_mongo import MongoPersistenceProvider


class Hello(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"Hello {context.workflow.data.customer}")


class Ship(StepBody):
    def __init__(self):
        self.approver = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"approved by {self.approver}, shipping")
        return ExecutionResult.next()


#Workflow data is stored in MongoDB as a readable document, not a pickle
class Order:
    def __init__(self, customer=""):
        self.customer = customer
        self.order_id = uuid.uuid4().hex
        self.approver = None


class ApprovalWorkflow(Workflow):
    def id(self):
        return "ApprovalWorkflow"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(Hello)\
            .wait_for('approved', lambda data, context: data.order_id)\
                .output('approver', lambda step: step.event_data)\
            .then(Ship)\
                .input('approver', lambda data, context: data.approver)


persistence = MongoPersistenceProvider(
    os.environ.get("LITEFLOW_MONGO_URI", "mongodb://127.0.0.1:27018/"), "liteflow_samples"
)
host = configure_workflow_host(persistence_service=persistence)
host.register_workflow(ApprovalWorkflow())
host.start()

try:
    order = Order("Ann's Bakery")
    wid = host.start_workflow("ApprovalWorkflow", 1, order)

    deadline = time.monotonic() + 10
    while not persistence.get_subscriptions('approved', order.order_id, datetime.max):
        if time.monotonic() > deadline:
            sys.exit("the workflow did not reach its wait_for step within 10 s")
        time.sleep(0.01)
    print("waiting for approval...")

    host.publish_event('approved', order.order_id, 'ann')

    instance = host.wait_for_workflow(wid, timeout=10)
    status = "complete" if instance.status == WorkflowInstance.COMPLETE else f"status {instance.status}"
    print(f"stored in MongoDB: {status}, approved by {instance.data.approver}")
finally:
    host.stop()
    persistence.close()
