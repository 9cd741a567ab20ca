"""Events: a workflow waits for "event1"/"key1"; publishing it wakes the workflow.

Prints "Hello world", "waiting for event1...", "Goodbye", then "captured: hello".
"""

import time
from datetime import datetime

from liteflow.core import *


class Hello(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print("Hello world")


class Goodbye(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print("Goodbye")
        return ExecutionResult.next()


class MyData:
    def __init__(self):
        self.captured_value = None


#Data from the published event can be captured and mapped to the workflow data object with an output on the WaitFor step
class MyWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(Hello) \
            .wait_for('event1', lambda data, context: 'key1') \
                .output('captured_value', lambda step: step.event_data) \
            .then(Goodbye)


host = configure_workflow_host()
host.register_workflow(MyWorkflow())
host.start()

wid = host.start_workflow("MyWorkflow", 1, MyData())

while not host.persistence_service.get_subscriptions('event1', 'key1', datetime.max):
    time.sleep(0.01)
print("waiting for event1...")

#External events are published via the host
#All workflows that have subscribed to event1, key1, will be passed "hello"
host.publish_event('event1', 'key1', 'hello')

print(f"captured: {host.wait_for_workflow(wid, timeout=10).data.captured_value}")
host.stop()
