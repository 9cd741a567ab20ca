"""Code written for liteflow.core 0.3.1 runs unchanged: end-to-end tests in the style of the
original's own (a unittest harness reading ``host._persistence_service``), with its import
lines, and one on the stack of its samples through their import paths (MongoDB persistence,
Azure queue and lock on an emulated account object)."""

import unittest
import uuid
from datetime import datetime, timedelta

from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from liteflow.core import configure_workflow_host
from liteflow.core.abstractions import *
from liteflow.core.builders import WorkflowBuilder
from liteflow.core.models import *
from liteflow.providers.azure import AzureLockProvider, AzureQueueProvider
from liteflow.providers.mongo import MongoPersistenceProvider
from liteflow_azure import StorageAccount
from tests.servers import drop_database, new_database_name, require_azurite_on_default_ports, require_mongo
from tests.support import wait_until

#: What the steps did, in order (steps run in this process on every stack).
STEPS: list[str] = []


class WorkflowScenario(unittest.TestCase):
    """The original's harness: a started host per test, and waits that poll its persistence."""

    def setUp(self) -> None:
        STEPS.clear()
        self.host: IWorkflowHost = self.configure_host()
        self.persistence_service: IPersistenceProvider = self.host._persistence_service
        self.host.start()
        self.addCleanup(self.host.stop)

    def configure_host(self) -> IWorkflowHost:
        return configure_workflow_host()

    def wait_for_workflow_to_complete(self, workflow_id: str, time_out: timedelta) -> None:
        wait_until(
            lambda: self.get_workflow_status(workflow_id) != WorkflowInstance.RUNNABLE,
            time_out.total_seconds(),
            what=f"workflow {workflow_id} to stop running",
        )

    def wait_for_subscription(self, event_name: str, event_key: str, time_out: timedelta) -> None:
        wait_until(
            lambda: self.get_active_subscriptions(event_name, event_key),
            time_out.total_seconds(),
            what=f"a subscription to {event_name}/{event_key}",
        )

    def get_workflow_status(self, workflow_id: str) -> int:
        return self.persistence_service.get_workflow_instance(workflow_id).status

    def get_workflow_data(self, workflow_id: str) -> object:
        return self.persistence_service.get_workflow_instance(workflow_id).data

    def get_active_subscriptions(self, event_name: str, event_key: str) -> list[EventSubscription]:
        return list(self.persistence_service.get_subscriptions(event_name, event_key, datetime.max))


class Record(StepBody):
    def __init__(self) -> None:
        self.label = ""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        item = context.execution_pointer.context_item
        STEPS.append(self.label if item is None else f"{self.label}:{item}")
        return ExecutionResult.next()


class Greet(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        STEPS.append("greet")
        return ExecutionResult.next()


class Part:
    def __init__(self, price: int = 0, quantity: int = 0) -> None:
        self.price = price
        self.quantity = quantity
        self.total = 0
        self.reply = None
        self.counter = 0


class Multiply(StepBody):
    def __init__(self) -> None:
        self.left = 0
        self.right = 0
        self.product = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        self.product = self.left * self.right
        return ExecutionResult.next()


class TwoSteps(Workflow):
    def id(self):
        return "TwoSteps"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder.start_with(Greet).then(Record).input("label", lambda data, context: "farewell")


class PriceParts(Workflow):
    def id(self):
        return "PriceParts"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder.start_with(Multiply).input("left", lambda data, context: data.price).input(
            "right", lambda data, context: data.quantity
        ).output("total", lambda step: step.product)


class AwaitReply(Workflow):
    def id(self):
        return "AwaitReply"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder.start_with(Greet).wait_for("reply", lambda data, context: "order-7").output(
            "reply", lambda step: step.event_data
        ).then(Record).input("label", lambda data, context: f"replied {data.reply}")


class EachColour(Workflow):
    def id(self):
        return "EachColour"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder.start_with(Greet).for_each(lambda data, context: ["red", "green", "blue"]).do(
            lambda each: each.start_with(Record).input("label", lambda data, context: "colour")
        ).then(Record).input("label", lambda data, context: "after")


class CountToThree(Workflow):
    def id(self):
        return "CountToThree"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder.start_with(Greet).while_(lambda data, context: data.counter < 3).do(
            lambda body: (
                body.start_with(Multiply)
                .input("left", lambda data, context: data.counter)
                .input("right", lambda data, context: 1)
                .output("counter", lambda step: step.product + 1)
                .then(Record)
                .input("label", lambda data, context: f"pass {data.counter}")
            )
        ).then(Record).input("label", lambda data, context: "counted")


class BigOrdersOnly(Workflow):
    def id(self):
        return "BigOrdersOnly"

    def version(self):
        return 1

    def build(self, builder: WorkflowBuilder):
        builder.start_with(Greet).if_(lambda data, context: data.quantity > 10).do(
            lambda then: then.start_with(Record).input("label", lambda data, context: "big order")
        ).then(Record).input("label", lambda data, context: "done")


class BasicWorkflow(WorkflowScenario):
    def setUp(self) -> None:
        super().setUp()
        self.host.register_workflow(TwoSteps())

    def test_scenario(self) -> None:
        wid = self.host.start_workflow("TwoSteps", 1, None)
        self.wait_for_workflow_to_complete(wid, timedelta(seconds=30))

        self.assertEqual(self.get_workflow_status(wid), WorkflowInstance.COMPLETE)
        self.assertEqual(STEPS, ["greet", "farewell"])


class DataWorkflow(WorkflowScenario):
    def setUp(self) -> None:
        super().setUp()
        self.host.register_workflow(PriceParts())

    def test_scenario(self) -> None:
        wid = self.host.start_workflow("PriceParts", 1, Part(price=4, quantity=3))
        self.wait_for_workflow_to_complete(wid, timedelta(seconds=30))

        self.assertEqual(self.get_workflow_status(wid), WorkflowInstance.COMPLETE)
        self.assertEqual(self.get_workflow_data(wid).total, 12)


class EventWorkflow(WorkflowScenario):
    def setUp(self) -> None:
        super().setUp()
        self.host.register_workflow(AwaitReply())

    def test_scenario(self) -> None:
        wid = self.host.start_workflow("AwaitReply", 1, Part())
        self.wait_for_subscription("reply", "order-7", timedelta(seconds=30))
        self.assertEqual(self.get_workflow_status(wid), WorkflowInstance.RUNNABLE)
        self.assertEqual(STEPS, ["greet"])

        self.host.publish_event("reply", "order-7", "shipped")
        self.wait_for_workflow_to_complete(wid, timedelta(seconds=30))

        self.assertEqual(self.get_workflow_status(wid), WorkflowInstance.COMPLETE)
        self.assertEqual(self.get_workflow_data(wid).reply, "shipped")
        self.assertEqual(STEPS, ["greet", "replied shipped"])
        self.assertEqual(self.get_active_subscriptions("reply", "order-7"), [])


class ForEachWorkflow(WorkflowScenario):
    def setUp(self) -> None:
        super().setUp()
        self.host.register_workflow(EachColour())

    def test_scenario(self) -> None:
        wid = self.host.start_workflow("EachColour", 1, None)
        self.wait_for_workflow_to_complete(wid, timedelta(seconds=30))

        self.assertEqual(self.get_workflow_status(wid), WorkflowInstance.COMPLETE)
        self.assertEqual(STEPS[0], "greet")
        self.assertCountEqual(STEPS[1:4], ["colour:red", "colour:green", "colour:blue"])
        self.assertEqual(STEPS[4:], ["after"])


class WhileWorkflow(WorkflowScenario):
    def setUp(self) -> None:
        super().setUp()
        self.host.register_workflow(CountToThree())

    def test_scenario(self) -> None:
        wid = self.host.start_workflow("CountToThree", 1, Part())
        self.wait_for_workflow_to_complete(wid, timedelta(seconds=30))

        self.assertEqual(self.get_workflow_status(wid), WorkflowInstance.COMPLETE)
        self.assertEqual(STEPS, ["greet", "pass 1", "pass 2", "pass 3", "counted"])
        self.assertEqual(self.get_workflow_data(wid).counter, 3)


class IfWorkflow(WorkflowScenario):
    def setUp(self) -> None:
        super().setUp()
        self.host.register_workflow(BigOrdersOnly())

    def test_scenario(self) -> None:
        big = self.host.start_workflow("BigOrdersOnly", 1, Part(quantity=20))
        self.wait_for_workflow_to_complete(big, timedelta(seconds=30))
        self.assertEqual(STEPS, ["greet", "big order", "done"])

        STEPS.clear()
        small = self.host.start_workflow("BigOrdersOnly", 1, Part(quantity=2))
        self.wait_for_workflow_to_complete(small, timedelta(seconds=30))
        self.assertEqual(STEPS, ["greet", "done"])
        self.assertEqual(self.get_workflow_status(small), WorkflowInstance.COMPLETE)


class SampleStackEventWorkflow(EventWorkflow):
    """The event scenario on the original samples' stack, built the way they built it:
    ``MongoPersistenceProvider(uri, database)`` and the Azure providers on an account object
    (``is_emulated``: Azurite's development account), under prefixes of their own."""

    def configure_host(self) -> IWorkflowHost:
        uri = require_mongo()
        connection_string = require_azurite_on_default_ports()
        database = new_database_name()
        self.addCleanup(drop_database, uri, database)
        names = f"lft-orig-{uuid.uuid4().hex[:12]}"
        account = StorageAccount(is_emulated=True)
        queue = AzureQueueProvider(account, queue_prefix=names)
        self.addCleanup(self.delete_queues, connection_string, queue)
        self.addCleanup(self.delete_container, connection_string, names)
        return configure_workflow_host(
            persistence_service=MongoPersistenceProvider(uri, database),
            queue_service=queue,
            lock_service=AzureLockProvider(account, container=names),
        )

    @staticmethod
    def delete_queues(connection_string: str, queue: AzureQueueProvider) -> None:
        with QueueServiceClient.from_connection_string(connection_string) as service:
            for name in queue.queue_names.values():
                service.delete_queue(name)

    @staticmethod
    def delete_container(connection_string: str, name: str) -> None:
        with BlobServiceClient.from_connection_string(connection_string) as service:
            service.delete_container(name)
