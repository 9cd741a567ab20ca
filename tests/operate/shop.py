"""A small application for the operators' tools to work on: ``--app tests.operate.shop:make_host``.

Its store is the URL in ``SHOP_STORE``. Orders fail to charge while their number is in
`BROKEN`; their data, references, step names and error messages carry markup, which no tool
may let run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

from liteflow.core import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowStep,
    configure_workflow_host,
)
from liteflow.core.serialization import DEFAULT_SERIALIZER
from liteflow.operate import open_store

#: Markup that would run script if a page let it through.
MARKUP = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
#: Orders the payment service fails for.
BROKEN: set[str] = set()


@dataclass
class OrderData:
    order: str = ""
    note: str = MARKUP
    ran: list[str] = field(default_factory=list)
    receipt: str | None = None


def ran(name: str) -> object:
    def step(context: StepExecutionContext) -> None:
        context.workflow.data.ran.append(name)

    step.__name__ = step.__qualname__ = name
    return step


class Charge(StepBody):
    def __init__(self) -> None:
        self.receipt: str | None = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = context.workflow.data
        data.ran.append("charge")
        if data.order in BROKEN:
            raise ConnectionError(f"payment service down for {MARKUP}")
        self.receipt = f"receipt-{data.order}"
        return ExecutionResult.next()


class Order(Workflow):
    """Reserve stock, charge the card (suspended when that fails), ship."""

    data_type = OrderData

    def id(self) -> str:
        return "Order"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(ran("reserve")).name("reserve").then(Charge).name("charge").on_error(
            WorkflowStep.SUSPEND
        ).output("receipt", lambda step: step.receipt).then(ran("ship")).name(f"ship {MARKUP}")


class Refund(Workflow):
    """Charge back; terminated when that fails."""

    data_type = OrderData

    def id(self) -> str:
        return "Refund"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Charge).name("charge").on_error(WorkflowStep.TERMINATE).then(ran("done"))


class Approval(Workflow):
    """Ask, wait for the approval of the order, then go on."""

    data_type = OrderData

    def id(self) -> str:
        return "Approval"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(ran("ask")).name("ask").wait_for("approved", lambda data: data.order).name(
            "approval"
        ).then(ran("done")).name("done")


class Batch(Workflow):
    """For each of two items, a sleep that never ends here, inside a saga."""

    data_type = OrderData

    def id(self) -> str:
        return "Batch"

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(ran("start")).saga(
            lambda saga: (
                saga.start_with(ran("reserve"))
                .compensate_with(ran("release"))
                .for_each(lambda data: ["a", "b"])
                .do(lambda each: each.start_with(ran("pack")).delay(timedelta(days=1)))
            )
        ).then(ran("end"))


WORKFLOWS = (Order(), Refund(), Approval(), Batch())


def make_host() -> WorkflowHost:
    store = open_store(os.environ["SHOP_STORE"], DEFAULT_SERIALIZER)
    host = configure_workflow_host(store, poll_interval=timedelta(milliseconds=200))
    for workflow in WORKFLOWS:
        host.register_workflow(workflow)
    return host
