"""Lifecycle events, a step middleware and a FakeClock: a reminder due in an hour, sent at once.

The middleware prints each step run as it happens; the lifecycle events, told on the host's
dispatcher thread, are collected and printed once the workflow is done.
"""

import threading
from datetime import timedelta

from liteflow.core import *
from liteflow.core.lifecycle import StepEvent, WorkflowCompleted
from liteflow.core.testing import FakeClock


class Remind(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print("reminder sent")
        return ExecutionResult.next()


class ReminderWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(lambda context: print("reminder scheduled")).name("Schedule")\
            .delay(lambda data, context: timedelta(hours=1))\
            .then(Remind)


def print_step_runs(context, body, call_next):
    print(f"running {context.step.display_name}")
    return call_next()


events = []
completed = threading.Event()


def collect(event):
    events.append(event)
    if isinstance(event, WorkflowCompleted):
        completed.set()


clock = FakeClock()
host = configure_workflow_host(clock=clock, step_middleware=[print_step_runs])
host.register_workflow(ReminderWorkflow())
host.on_lifecycle_event(collect)
host.start()

workflow_id = host.start_workflow("ReminderWorkflow")
clock.advance(timedelta(hours=1))  # waits until the workflow sleeps, then an hour passes
host.wait_for_workflow(workflow_id, timeout=5)
completed.wait(5)
host.stop()

for event in events:
    step = f" {event.step_name}" if isinstance(event, StepEvent) else ""
    print(f"event: {type(event).__name__}{step}")
