"""The parts behind async steps: which callables are awaited, the daemon threads, the event
loop's bridges and the option bounding awaited steps."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

from liteflow.core import (
    ExecutionPointer,
    ExecutionResult,
    HostStateError,
    InvalidArgumentError,
    StepBody,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowInstance,
    configure_workflow_host,
)
from liteflow.core.callables import is_async_callable
from liteflow.core.clock import SystemClock
from liteflow.core.event_loop import HostEventLoop
from liteflow.core.executor import PendingPass, WorkflowExecutor
from liteflow.core.pointers import genesis_pointer
from liteflow.core.registry import WorkflowRegistry
from liteflow.core.result_processor import ExecutionReport, ResultProcessor
from liteflow.core.threads import DaemonThreadPool
from tests.async_support import Chain

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="empty")


async def fetch(context: Any) -> None:
    return None


class AsyncRun(StepBody):
    async def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class SyncRun(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class AwaitedCall:
    async def __call__(self, context: Any) -> None:
        return None


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (fetch, True),
        (partial(fetch), True),
        (AwaitedCall(), True),
        (AsyncRun().run, True),
        (SyncRun().run, False),
        (lambda context: None, False),
        (print, False),
        (AwaitedCall, False),
    ],
    ids=["async def", "partial", "async __call__", "async method", "method", "lambda", "builtin", "class"],
)
def test_which_callables_are_awaited(fn: Any, expected: bool) -> None:
    assert is_async_callable(fn) is expected


def test_a_definition_knows_its_async_steps() -> None:
    builder = WorkflowBuilder()
    builder.start_with(SyncRun).then(AsyncRun).then(fetch).then(lambda context: None)
    definition = builder.build("Kinds", 1)
    assert [step.is_async for step in definition.steps] == [False, True, True, False]


def _all_due(*steps: Any) -> tuple[WorkflowExecutor, WorkflowInstance]:
    """An executor, and an instance of a chain of `steps` whose pointers are all due at once."""
    registry = WorkflowRegistry()
    definition = registry.register_workflow(Chain(*steps))
    logger = logging.getLogger("test")
    processor = ResultProcessor(timedelta(seconds=60), logger)
    executor = WorkflowExecutor(registry, processor, logger, clock=SystemClock())
    instance = WorkflowInstance()
    instance.workflow_definition_id, instance.version = definition.id, definition.version
    instance.execution_pointers = [genesis_pointer(step) for step in definition.steps]
    return executor, instance


def test_a_pass_of_at_most_one_step_hands_over_only_the_step_to_await() -> None:
    executor, instance = _all_due(AsyncRun, AsyncRun)
    pending = executor.execute(instance, max_steps=1)
    assert isinstance(pending, PendingPass)
    assert pending.due == instance.execution_pointers[:1]
    unlimited = executor.execute(instance)
    assert isinstance(unlimited, PendingPass) and unlimited.due == instance.execution_pointers


def test_a_pass_of_at_most_one_step_counts_a_synchronous_one_before_a_step_to_await() -> None:
    executor, instance = _all_due(SyncRun, AsyncRun)
    report = executor.execute(instance, max_steps=1)
    assert isinstance(report, ExecutionReport)  # nothing handed over: the step to await stays due
    first, second = instance.execution_pointers[:2]
    assert first.status == ExecutionPointer.COMPLETE
    assert second.status == ExecutionPointer.PENDING and second.active


@pytest.mark.parametrize("value", [0, -1, True, "100", 2.5])
def test_max_concurrent_async_steps_must_be_a_positive_int(value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="max_concurrent_async_steps must be an int >= 1"):
        configure_workflow_host(max_concurrent_async_steps=value)


def test_daemon_threads_run_calls_and_reuse_an_idle_thread() -> None:
    pool = DaemonThreadPool("test")
    first = pool.submit(threading.current_thread)
    thread = first.result(5)
    threading.Event().wait(0.01)  # the thread counts itself idle after its call
    assert pool.submit(threading.current_thread).result(5) is thread
    assert thread.daemon and thread.name == "test-1"
    pool.shutdown()


def test_daemon_threads_run_calls_that_wait_for_each_other_without_a_bound() -> None:
    pool = DaemonThreadPool("test")
    gate = threading.Event()
    waiting = [pool.submit(gate.wait, 5) for _ in range(5)]
    assert pool.submit(gate.set).result(5) is None
    assert [future.result(5) for future in waiting] == [True] * 5
    pool.shutdown()


def test_daemon_threads_beyond_the_bound_queue_their_calls() -> None:
    pool = DaemonThreadPool("test", max_threads=1)
    gate = threading.Event()
    blocked = pool.submit(gate.wait, 5)
    queued = pool.submit(lambda: "ran")
    assert not queued.done()
    gate.set()
    assert blocked.result(5) is True and queued.result(5) == "ran"
    pool.shutdown()


def test_daemon_threads_refuse_calls_once_shut_down() -> None:
    pool = DaemonThreadPool("test")
    pool.shutdown()
    with pytest.raises(RuntimeError, match="test threads were shut down"):
        pool.submit(print)


@pytest.fixture
def loop() -> Any:
    event_loop = HostEventLoop(logging.getLogger("test"))
    event_loop.start(io_threads=1)
    yield event_loop
    event_loop.stop()


def test_an_awaited_call_runs_in_an_empty_context_of_its_own(loop: HostEventLoop) -> None:
    async def read_then_set() -> str:
        seen = marker.get()
        marker.set("set inside")
        return seen

    async def outside() -> tuple[str, str]:
        marker.set("set by the caller")
        seen = await loop.in_own_context(read_then_set)
        return seen, marker.get()

    assert loop.wait(outside()) == ("empty", "set by the caller")


def test_synchronous_code_runs_on_a_step_thread_in_a_copy_of_the_context(loop: HostEventLoop) -> None:
    def read() -> tuple[str, str]:
        return marker.get(), threading.current_thread().name

    async def outside() -> tuple[str, str]:
        marker.set("set on the loop")
        return await loop.in_thread(read)  # type: ignore[no-any-return]

    seen, thread = loop.wait(outside())
    assert seen == "set on the loop" and thread.startswith("liteflow-step")


def test_waiting_for_the_loop_on_its_own_thread_is_refused(loop: HostEventLoop) -> None:
    async def wait_inside() -> None:
        loop.wait(asyncio.sleep(0))

    with pytest.raises(HostStateError, match="cannot wait for the event loop on its own thread"):
        loop.wait(wait_inside())


def test_stopping_the_loop_cancels_what_still_awaits(loop: HostEventLoop) -> None:
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    future = loop.submit(forever())
    threading.Event().wait(0.05)
    loop.stop()
    assert cancelled.is_set() and future.cancelled()
