"""Step middleware around async steps, in each form, and the context variables steps see."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from liteflow.core import (
    ExecutionResult,
    InvalidArgumentError,
    PersistenceProvider,
    StepBody,
    StepExecutionContext,
    configure_workflow_host,
)
from tests.async_support import Chain
from tests.support import Scenario, running_host, wait_until

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


class Quick(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.outcome("sync result")


class Slow(StepBody):
    async def run(self, context: StepExecutionContext) -> ExecutionResult:
        await asyncio.sleep(0.05)
        return ExecutionResult.outcome("async result")


def test_a_plain_middleware_wraps_the_whole_await_of_an_async_step(
    local_persistence: PersistenceProvider,
) -> None:
    log: list[str] = []

    def around(context: StepExecutionContext, body: StepBody, call_next: Callable[[], Any]) -> Any:
        log.append(f"before {type(body).__name__}")
        result = call_next()
        log.append(f"after {result.outcome_value}")
        return result

    with running_host(local_persistence, step_middleware=[around]) as host:
        scenario = Scenario(host)
        scenario.wait_for_completion(scenario.run(Chain(Quick, Slow), {}))
    assert log == ["before Quick", "after sync result", "before Slow", "after async result"]


def test_an_async_middleware_wraps_sync_and_async_steps(local_persistence: PersistenceProvider) -> None:
    log: list[str] = []

    async def around(
        context: StepExecutionContext, body: StepBody, call_next: Callable[[], Awaitable[Any]]
    ) -> Any:
        log.append(f"before {type(body).__name__}")
        result = await call_next()
        log.append(f"after {result.outcome_value}")
        return result

    with running_host(local_persistence, step_middleware=[around]) as host:
        scenario = Scenario(host)
        scenario.wait_for_completion(scenario.run(Chain(Quick, Slow), {}))
    assert log == ["before Quick", "after sync result", "before Slow", "after async result"]


class BothForms:
    """A middleware offering both forms, recording which one wrapped each step."""

    def __init__(self) -> None:
        self.used: list[str] = []

    def __call__(self, context: StepExecutionContext, body: StepBody, call_next: Callable[[], Any]) -> Any:
        self.used.append(f"sync form around {type(body).__name__}")
        return call_next()

    async def call_async(
        self, context: StepExecutionContext, body: StepBody, call_next: Callable[[], Awaitable[Any]]
    ) -> Any:
        self.used.append(f"async form around {type(body).__name__}")
        return await call_next()


def test_a_middleware_with_both_forms_wraps_each_step_in_the_form_of_its_kind(scenario: Scenario) -> None:
    both = BothForms()
    scenario.host.add_step_middleware(both)
    scenario.wait_for_completion(scenario.run(Chain(Quick, Slow, Quick), {}))
    assert both.used == ["sync form around Quick", "async form around Slow", "sync form around Quick"]


def test_mixed_middleware_nest_in_registration_order_around_an_async_step(scenario: Scenario) -> None:
    log: list[str] = []

    def plain(context: StepExecutionContext, body: StepBody, call_next: Callable[[], Any]) -> Any:
        log.append("plain in")
        try:
            return call_next()
        finally:
            log.append("plain out")

    async def awaiting(
        context: StepExecutionContext, body: StepBody, call_next: Callable[[], Awaitable[Any]]
    ) -> Any:
        log.append("async in")
        try:
            return await call_next()
        finally:
            log.append("async out")

    scenario.host.add_step_middleware(plain)
    scenario.host.add_step_middleware(awaiting)
    scenario.wait_for_completion(scenario.run(Chain(Slow), {}))
    assert log == ["plain in", "async in", "async out", "plain out"]


def test_an_async_step_middleware_that_raises_fails_the_step(scenario: Scenario) -> None:
    async def refuse(
        context: StepExecutionContext, body: StepBody, call_next: Callable[[], Awaitable[Any]]
    ) -> Any:
        raise PermissionError("not allowed")

    scenario.host.add_step_middleware(refuse)
    workflow_id = scenario.run(Chain(Slow), {})
    wait_until(lambda: scenario.errors(workflow_id), what="the recorded error")
    assert scenario.errors(workflow_id)[0] == "PermissionError: not allowed"
    assert scenario.instance(workflow_id).execution_pointers[0].end_time is None


def test_a_call_async_that_is_not_async_is_refused_when_installed() -> None:
    class Wrong:
        def __call__(self, context: Any, body: Any, call_next: Callable[[], Any]) -> Any:
            return call_next()

        def call_async(self, context: Any, body: Any, call_next: Callable[[], Any]) -> Any:
            return call_next()

    host = configure_workflow_host()
    with pytest.raises(
        InvalidArgumentError, match=r"call_async of step middleware .* must be an async def method"
    ):
        host.add_step_middleware(Wrong())


def test_steps_do_not_see_the_context_variables_of_the_caller_of_start_workflow(scenario: Scenario) -> None:
    seen: list[str] = []

    async def look(context: StepExecutionContext) -> None:
        seen.append(request_id.get())

    def look_sync(context: StepExecutionContext) -> None:
        seen.append(request_id.get())

    workflow = Chain(look, look_sync)

    async def caller(name: str) -> str:
        request_id.set(name)
        return await scenario.host.start_workflow_async(workflow.id(), data={})

    scenario.host.register_workflow(workflow)
    ids = [asyncio.run(caller(f"request {n}")) for n in range(3)]
    for workflow_id in ids:
        scenario.wait_for_completion(workflow_id)
    assert seen == ["unset"] * 6


def test_what_a_step_sets_in_its_context_stays_its_own(scenario: Scenario) -> None:
    seen: list[str] = []

    async def set_it(context: StepExecutionContext) -> None:
        seen.append(request_id.get())
        request_id.set(f"set by {context.workflow.id}")

    def set_it_sync(context: StepExecutionContext) -> None:
        seen.append(request_id.get())
        request_id.set(f"set by {context.workflow.id}")

    workflow = Chain(set_it, set_it_sync, set_it, set_it_sync)
    ids = [scenario.run(workflow, {}) for _ in range(5)]
    for workflow_id in ids:
        scenario.wait_for_completion(workflow_id)
    assert seen == ["unset"] * 20


class Look(StepBody):
    """Records the request id it sees."""

    seen: list[str] = []

    async def run(self, context: StepExecutionContext) -> None:
        Look.seen.append(request_id.get())


class LookSync(StepBody):
    def run(self, context: StepExecutionContext) -> None:
        Look.seen.append(request_id.get())


@pytest.fixture
def looks() -> list[str]:
    Look.seen = []
    return Look.seen


def test_steps_see_what_an_async_middleware_set_in_their_context(
    scenario: Scenario, looks: list[str]
) -> None:
    async def tag(
        context: StepExecutionContext, body: StepBody, call_next: Callable[[], Awaitable[Any]]
    ) -> Any:
        request_id.set(f"tagged {context.step.display_name}")
        return await call_next()

    scenario.host.add_step_middleware(tag)
    scenario.wait_for_completion(scenario.run(Chain(Look, LookSync), {}))
    assert looks == ["tagged Look", "tagged LookSync"]


def test_steps_see_what_a_plain_middleware_set_in_their_context(scenario: Scenario, looks: list[str]) -> None:
    def tag(context: StepExecutionContext, body: StepBody, call_next: Callable[[], Any]) -> Any:
        request_id.set(f"tagged {context.step.display_name}")
        return call_next()

    scenario.host.add_step_middleware(tag)
    scenario.wait_for_completion(scenario.run(Chain(Look, LookSync), {}))
    assert looks == ["tagged Look", "tagged LookSync"]
