"""Timers: a step that sleeps with ExecutionResult.sleep, and a builder delay().

Prints "taking a nap", "woke up after ~0.5 s", "waited ~0.3 s", then "done".
"""

import time
from datetime import timedelta

from liteflow.core import *


class Nap(StepBody):
    """Sleeps once: the first run asks to be called again in half a second."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if context.persistence_data is None:
            print("taking a nap")
            return ExecutionResult.sleep(timedelta(seconds=0.5), time.monotonic())
        print(f"woke up after {time.monotonic() - context.persistence_data:.1f} s")
        return ExecutionResult.next()


class Stamp(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        context.workflow.data["stamp"] = time.monotonic()
        return ExecutionResult.next()


class Report(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print(f"waited {time.monotonic() - context.workflow.data['stamp']:.1f} s")
        return ExecutionResult.next()


class TimerWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder):
        builder.start_with(Nap).then(Stamp).delay(lambda data, context: timedelta(seconds=0.3)).then(
            Report
        ).then(lambda context: print("done"))


host = configure_workflow_host()
host.register_workflow(TimerWorkflow())
host.start()

wid = host.start_workflow("TimerWorkflow", data={})

host.wait_for_workflow(wid, timeout=10)
host.stop()
