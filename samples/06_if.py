"""If condition: the block runs only when data.value1 > 3.

Starts two workflows: value1 = 5 prints "doing stuff...", value1 = 1 does not.
Prints "Hello world", "doing stuff...", "Goodbye" for the first, "Hello world", "Goodbye" for the second.
"""

from liteflow.core import *


class Hello(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print("Hello world")


class Goodbye(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print("Goodbye")
        return ExecutionResult.next()


class DoStuff(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        print("doing stuff...")
        return ExecutionResult.next()


class MyData:
    def __init__(self, value1):
        self.value1 = value1


class MyWorkflow(Workflow):

    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(Hello)\
            .if_(lambda data, context: data.value1 > 3)\
                .do(lambda x:\
                    x.start_with(DoStuff))\
            .then(Goodbye)


host = configure_workflow_host()
host.register_workflow(MyWorkflow())
host.start()

for value in (5, 1):
    print(f"value1 = {value}:")
    wid = host.start_workflow("MyWorkflow", 1, MyData(value))
    host.wait_for_workflow(wid, timeout=10)

host.stop()
