"""Error handling: a flaky step retried with backoff, and a step that suspends until resumed.

Prints the retries of "charge card", then "suspended: waiting for an operator",
"operator arrived: resuming", "shipped", and finally the recorded errors.
"""

import logging
import time
from datetime import timedelta

from liteflow.core import *

logging.basicConfig(level=logging.CRITICAL)


class ChargeCard(StepBody):
    """Fails twice (a flaky payment gateway), then succeeds."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = context.workflow.data
        data["attempts"] = data.get("attempts", 0) + 1
        print(f"charge card, attempt {data['attempts']}")
        if data["attempts"] < 3:
            raise ConnectionError("payment gateway timed out")
        return ExecutionResult.next()


OPERATOR_ON_SHIFT = False


class Ship(StepBody):
    """Fails while no operator is on shift; the workflow then waits, suspended, for a resume."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if not OPERATOR_ON_SHIFT:
            raise RuntimeError("no operator on shift")
        print("shipped")
        return ExecutionResult.next()


class OrderWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder):
        builder.start_with(ChargeCard).on_error(
            WorkflowStep.RETRY, timedelta(milliseconds=100), max_retries=5, backoff=2.0
        ).then(Ship).on_error(WorkflowStep.SUSPEND)


host = configure_workflow_host()
host.register_workflow(OrderWorkflow())
host.start()

wid = host.start_workflow("OrderWorkflow", data={})

while host.get_workflow_instance(wid).status != WorkflowInstance.SUSPENDED:
    time.sleep(0.01)
print("suspended: waiting for an operator")

OPERATOR_ON_SHIFT = True
print("operator arrived: resuming")
host.resume_workflow(wid)

host.wait_for_workflow(wid, timeout=10)
for error in host.persistence_service.get_errors(wid):
    print(f"recorded error: {error.message}")
host.stop()
