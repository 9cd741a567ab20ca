"""Azure: the work queues on Azure Storage queues, the locks on blob leases, the state in MongoDB,
so any number of hosts on any machines can share the workflows.

Needs Azure Storage at LITEFLOW_AZURE_CONNECTION_STRING (default UseDevelopmentStorage=true, the
Azurite emulator that `bash scripts/services.sh start azurite` runs), MongoDB at LITEFLOW_MONGO_URI
(default mongodb://127.0.0.1:27018/, `bash scripts/services.sh start mongo`), and the `azure`
and `mongo` extras.
Prints "Hello from Azure", "waiting for the payment...", "paid 42.5, done", then
"stored in MongoDB: complete, paid 42.5".
"""

import os
import sys
import time
import uuid
from datetime import datetime

from liteflow.core import *
from liteflow_azure import AzureLockProvider, AzureQueueProvider
from liteflow_mongo import MongoPersistenceProvider


class Hello(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print("Hello from Azure")


class Done(StepBody):
    def __init__(self):
        self.amount = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"paid {self.amount}, done")
        return ExecutionResult.next()


class Invoice:
    def __init__(self):
        self.invoice_id = uuid.uuid4().hex
        self.amount = None


class PaymentWorkflow(Workflow):
    def id(self):
        return "PaymentWorkflow"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(Hello)\
            .wait_for('paid', lambda data, context: data.invoice_id)\
                .output('amount', lambda step: step.event_data)\
            .then(Done)\
                .input('amount', lambda data, context: data.amount)


azure = os.environ.get("LITEFLOW_AZURE_CONNECTION_STRING", "UseDevelopmentStorage=true")
persistence = MongoPersistenceProvider(
    os.environ.get("LITEFLOW_MONGO_URI", "mongodb://127.0.0.1:27018/"), "liteflow_samples"
)
#Every host of the cluster uses the same queue prefix and lock container
host = configure_workflow_host(
    persistence_service=persistence,
    queue_service=AzureQueueProvider(azure, queue_prefix="liteflow-samples"),
    lock_service=AzureLockProvider(azure, container="liteflow-samples-locks"),
)
host.register_workflow(PaymentWorkflow())
host.start()

try:
    invoice = Invoice()
    wid = host.start_workflow("PaymentWorkflow", 1, invoice)

    deadline = time.monotonic() + 10
    while not persistence.get_subscriptions('paid', invoice.invoice_id, datetime.max):
        if time.monotonic() > deadline:
            sys.exit("the workflow did not reach its wait_for step within 10 s")
        time.sleep(0.01)
    print("waiting for the payment...")

    host.publish_event('paid', invoice.invoice_id, 42.5)

    instance = host.wait_for_workflow(wid, timeout=10)
    status = "complete" if instance.status == WorkflowInstance.COMPLETE else f"status {instance.status}"
    print(f"stored in MongoDB: {status}, paid {instance.data.amount}")
finally:
    host.stop()
    persistence.close()
