"""Async steps in an asyncio application: 100 orders, each waiting 0.5 s for an exchange rate.

The rate comes from an `async def` step (standing for a call through an async HTTP client):
the host awaits all 100 at once on its event loop, instead of holding a worker thread for
each, while the synchronous steps run on its worker threads. The application drives the
host from its own event loop with the `*_async` methods, and that loop keeps running.
"""

import asyncio
import itertools
import time

from liteflow.core import *

RATES = {"EUR": 1.10, "GBP": 1.25}


class ReceiveOrder(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:  # synchronous: a worker thread
        context.workflow.data["received"] = True
        return ExecutionResult.next()


class FetchRate(StepBody):
    currency = "EUR"
    rate = 0.0

    async def run(self, context: StepExecutionContext) -> ExecutionResult:  # awaited: the event loop
        await asyncio.sleep(0.5)
        self.rate = RATES[self.currency]
        return ExecutionResult.next()


async def price(context: StepExecutionContext) -> None:
    data = context.workflow.data
    data["usd"] = round(data["amount"] * data["rate"], 2)


class PriceOrder(Workflow):
    def build(self, builder: WorkflowBuilder):
        builder\
            .start_with(ReceiveOrder)\
            .then(FetchRate)\
                .input("currency", lambda data: data["currency"])\
                .output("rate", lambda step: step.rate)\
            .then(price)


async def main():
    ticks = []

    async def ticker():
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    host = configure_workflow_host()
    host.register_workflow(PriceOrder())
    ticking = asyncio.create_task(ticker())
    async with host:
        orders = [{"amount": 10 * n, "currency": "EUR"} for n in range(1, 101)]
        ids = [await host.start_workflow_async("PriceOrder", data=order) for order in orders]
        done = [await host.wait_for_workflow_async(workflow_id) for workflow_id in ids]
    ticking.cancel()
    for n, instance in enumerate(done[:3], start=1):
        print(f"order {n}: {instance.data['amount']} EUR = {instance.data['usd']:.2f} USD")
    print(f"{len(done)} orders priced, each after waiting 0.5 s for a rate")
    longest_pause = max(later - earlier for earlier, later in itertools.pairwise(ticks))
    print("the application's event loop kept running" if longest_pause < 0.5 else "the loop stalled")


asyncio.run(main())
