"""PostgreSQL: one database holds a whole cluster node's state, work queue and locks.

Every host given the same database (and schema) shares the workflows: the store keeps them,
the queue hands their work to whichever node is free, the advisory locks keep two nodes off
one workflow. Needs PostgreSQL at LITEFLOW_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres, the server `bash scripts/services.sh start
postgres` checks) and the `postgres` extra (psycopg 3 and its pool).
Prints "invoice 7 received", "waiting for the payment...", "paid 120.5 EUR", then
"stored in PostgreSQL: complete, paid 120.5".
"""

import os
import sys
import time
import uuid
from datetime import datetime

from liteflow.core import *
from liteflow_postgres import PostgresLockProvider, PostgresPersistenceProvider, PostgresQueueProvider


class Invoice:
    def __init__(self, number=0):
        self.number = number
        self.invoice_id = uuid.uuid4().hex
        self.paid = None


class Receipt(StepBody):
    def __init__(self):
        self.amount = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"paid {self.amount} EUR")
        return ExecutionResult.next()


class InvoiceWorkflow(Workflow):
    def id(self):
        return "InvoiceWorkflow"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(lambda context: print(f"invoice {context.workflow.data.number} received"))\
            .wait_for('paid', lambda data, context: data.invoice_id)\
                .output('paid', lambda step: step.event_data)\
            .then(Receipt)\
                .input('amount', lambda data, context: data.paid)


dsn = os.environ.get("LITEFLOW_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
#Every node of the cluster uses the same database and schema
persistence = PostgresPersistenceProvider(dsn, schema="liteflow_samples")
host = configure_workflow_host(
    persistence_service=persistence,
    queue_service=PostgresQueueProvider(dsn, schema="liteflow_samples"),
    lock_service=PostgresLockProvider(dsn),
)
host.register_workflow(InvoiceWorkflow())
host.start()

try:
    invoice = Invoice(7)
    wid = host.start_workflow("InvoiceWorkflow", 1, invoice)

    deadline = time.monotonic() + 10
    while not persistence.get_subscriptions('paid', invoice.invoice_id, datetime.max):
        if time.monotonic() > deadline:
            sys.exit("the workflow did not reach its wait_for step within 10 s")
        time.sleep(0.01)
    print("waiting for the payment...")

    host.publish_event('paid', invoice.invoice_id, 120.5)

    instance = host.wait_for_workflow(wid, timeout=10)
    status = "complete" if instance.status == WorkflowInstance.COMPLETE else f"status {instance.status}"
    print(f"stored in PostgreSQL: {status}, paid {instance.data.paid}")
finally:
    host.stop()
    persistence.close()
