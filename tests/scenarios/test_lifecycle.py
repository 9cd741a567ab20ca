"""Lifecycle events: which a workflow's run yields, in order, and only once it was stored."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from liteflow.core import (
    ExecutionResult,
    LocalLockProvider,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
    WorkflowStep,
    configure_workflow_host,
)
from liteflow.core.clock import MAX_TIME
from liteflow.core.lifecycle import (
    LifecycleEvent,
    StepEvent,
    StepStarted,
    WorkflowCompleted,
    WorkflowError,
    WorkflowStarted,
    WorkflowSuspended,
    WorkflowTerminated,
)
from liteflow.core.testing import FakeClock
from tests.support import FailsOnce, Hello, Scenario, running_host, wait_until


class Recorder:
    """A handler keeping the events of the workflows it is told about, with the threads it ran on."""

    def __init__(self) -> None:
        self.events: list[LifecycleEvent] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, event: LifecycleEvent) -> None:
        with self._lock:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)

    def of(self, workflow_id: str) -> list[LifecycleEvent]:
        with self._lock:
            return [event for event in self.events if event.workflow_instance_id == workflow_id]

    def names(self, workflow_id: str) -> list[str]:
        return [_name(event) for event in self.of(workflow_id)]

    def wait_for(self, workflow_id: str, kind: type[LifecycleEvent], count: int = 1) -> list[str]:
        wait_until(
            lambda: sum(isinstance(event, kind) for event in self.of(workflow_id)) >= count,
            what=f"{count} {kind.__name__} of {workflow_id}",
        )
        return self.names(workflow_id)


def _name(event: LifecycleEvent) -> str:
    if isinstance(event, StepEvent):
        return f"{type(event).__name__}:{event.step_name}"
    return type(event).__name__


class Goodbye(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class RetryThenWait(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).then(FailsOnce).on_error(WorkflowStep.RETRY, timedelta(minutes=5)).wait_for(
            "approved", lambda data: "order-1"
        ).then(Goodbye)


class Boom(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        raise RuntimeError("no way")


class TerminatesOnError(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Boom).on_error(WorkflowStep.TERMINATE)


class SuspendsOnError(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Boom).on_error(WorkflowStep.SUSPEND)


class WaitsForEvent(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).wait_for("go", lambda data: "k").then(Goodbye)


def test_a_retried_step_and_an_event_wait_yield_their_events_in_order() -> None:
    clock, recorder = FakeClock(), Recorder()
    with running_host(clock=clock) as host:
        host.on_lifecycle_event(recorder)
        scenario = Scenario(host)
        workflow_id = scenario.run(RetryThenWait(), reference="order-1")
        recorder.wait_for(workflow_id, WorkflowError)
        wait_until(lambda: host.get_workflow_instance(workflow_id).next_execution > clock.now())
        clock.advance(timedelta(minutes=5))
        scenario.wait_for_subscription("approved", "order-1")
        host.publish_event("approved", "order-1")
        names = recorder.wait_for(workflow_id, WorkflowCompleted)
    assert names == [
        "WorkflowStarted",
        "StepStarted:Hello",
        "StepCompleted:Hello",
        "StepStarted:FailsOnce",
        "WorkflowError:FailsOnce",
        "StepStarted:FailsOnce",
        "StepCompleted:FailsOnce",
        "StepStarted:WaitFor",
        "StepStarted:WaitFor",
        "StepCompleted:WaitFor",
        "StepStarted:Goodbye",
        "StepCompleted:Goodbye",
        "WorkflowCompleted",
    ]
    events = recorder.of(workflow_id)
    assert {(event.workflow_definition_id, event.version, event.reference) for event in events} == {
        ("RetryThenWait", 1, "order-1")
    }
    error = next(event for event in events if isinstance(event, WorkflowError))
    assert (error.error_type, error.message) == ("ValueError", "card declined")
    retried = [event for event in events if isinstance(event, StepStarted) and event.step_name == "FailsOnce"]
    assert retried[1].event_time - retried[0].event_time == timedelta(minutes=5)
    assert all(event.event_time.tzinfo is not None for event in events)
    assert recorder.threads == {"liteflow-lifecycle"}


def test_a_step_error_that_terminates_yields_workflow_terminated(memory_scenario: Scenario) -> None:
    recorder = Recorder()
    memory_scenario.host.on_lifecycle_event(recorder)
    workflow_id = memory_scenario.run(TerminatesOnError())
    names = recorder.wait_for(workflow_id, WorkflowTerminated)
    assert names == ["WorkflowStarted", "StepStarted:Boom", "WorkflowError:Boom", "WorkflowTerminated"]


def test_suspend_resume_and_terminate_each_yield_their_event(memory_scenario: Scenario) -> None:
    recorder = Recorder()
    host = memory_scenario.host
    host.on_lifecycle_event(recorder)
    workflow_id = memory_scenario.run(WaitsForEvent())
    memory_scenario.wait_for_subscription("go", "k")
    assert host.suspend_workflow(workflow_id)
    assert host.resume_workflow(workflow_id)
    assert host.terminate_workflow(workflow_id)
    names = recorder.wait_for(workflow_id, WorkflowTerminated)
    assert names[-3:] == ["WorkflowSuspended", "WorkflowResumed", "WorkflowTerminated"]


def test_a_step_error_that_suspends_yields_workflow_suspended(memory_scenario: Scenario) -> None:
    recorder = Recorder()
    memory_scenario.host.on_lifecycle_event(recorder)
    workflow_id = memory_scenario.run(SuspendsOnError())
    assert recorder.wait_for(workflow_id, WorkflowSuspended)[-1] == "WorkflowSuspended"


class LosesTheLockOnce(LocalLockProvider):
    """Says the lock of a workflow was lost after its first pass ran (as a lease that expired
    mid-step would), so that pass is discarded and run again."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = threading.Event()

    def holds_lock(self, resource: str) -> bool:
        if not resource.startswith("liteflow:") and not self.lost.is_set():
            self.lost.set()
            return False
        return super().holds_lock(resource)


def test_a_discarded_pass_yields_no_event() -> None:
    recorder = Recorder()
    lock = LosesTheLockOnce()
    with running_host(lock_service=lock, poll_interval=timedelta(milliseconds=200)) as host:
        host.on_lifecycle_event(recorder)
        workflow_id = Scenario(host).run(WaitsForEvent())
        names = recorder.wait_for(workflow_id, StepStarted, count=2)
    assert lock.lost.is_set()
    assert names == ["WorkflowStarted", "StepStarted:Hello", "StepCompleted:Hello", "StepStarted:WaitFor"]


def test_a_slow_handler_does_not_stall_workflows() -> None:
    release = threading.Event()
    with running_host() as host:
        host.on_lifecycle_event(lambda event: release.wait(10))
        scenario = Scenario(host)
        try:
            ids = [scenario.run(WaitsForEvent()) for _ in range(3)]
            subscriptions = host.persistence_service.get_subscriptions
            wait_until(lambda: len(subscriptions("go", "k", MAX_TIME)) == 3, what="three subscriptions")
            host.publish_event("go", "k")
            for workflow_id in ids:
                scenario.wait_for_completion(workflow_id, timeout=5)
        finally:
            release.set()


def test_events_that_do_not_fit_the_buffer_are_dropped_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    received: list[LifecycleEvent] = []

    def slow(event: LifecycleEvent) -> None:
        release.wait(10)
        received.append(event)

    with caplog.at_level(logging.WARNING, logger="liteflow"), running_host(lifecycle_buffer=3) as host:
        host.on_lifecycle_event(slow)
        scenario = Scenario(host)
        workflow_id = scenario.run(WaitsForEvent())
        scenario.wait_for_subscription("go", "k")
        host.publish_event("go", "k")
        scenario.wait_for_completion(workflow_id)
        release.set()
        wait_until(lambda: any("dropped" in record.message for record in caplog.records), what="the warning")
    warnings = [record.message for record in caplog.records if "dropped" in record.message]
    assert len(warnings) == 1
    dropped = int(warnings[0].split()[1])
    assert dropped > 0 and dropped + len(received) == 9  # the workflow's events, from start to end
    assert warnings[0].endswith("the handlers could not keep up (buffer of 3 full)")
    assert type(received[0]) is WorkflowStarted


def test_a_failing_handler_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()

    def failing(event: LifecycleEvent) -> None:
        raise RuntimeError("handler bug")

    with caplog.at_level(logging.ERROR), running_host() as host:
        host.on_lifecycle_event(failing)
        host.on_lifecycle_event(recorder)
        workflow_id = Scenario(host).run(TerminatesOnError())
        recorder.wait_for(workflow_id, WorkflowTerminated)
    assert any("handler bug" in (record.exc_text or "") for record in caplog.records)


def test_an_unsubscribed_handler_hears_nothing_more(memory_scenario: Scenario) -> None:
    stays, leaves = Recorder(), Recorder()
    host = memory_scenario.host
    host.on_lifecycle_event(stays)
    unsubscribe = host.on_lifecycle_event(leaves)
    first = memory_scenario.run(TerminatesOnError())
    leaves.wait_for(first, WorkflowTerminated)
    unsubscribe()
    second = memory_scenario.run(TerminatesOnError())
    stays.wait_for(second, WorkflowTerminated)
    assert leaves.of(second) == []


def test_a_handler_that_is_not_callable_is_refused(memory_scenario: Scenario) -> None:
    from liteflow.core import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="callable"):
        memory_scenario.host.on_lifecycle_event("not a function")  # type: ignore[arg-type]


def test_workflow_started_comes_before_the_first_step_on_every_provider(scenario: Scenario) -> None:
    recorder = Recorder()
    scenario.host.on_lifecycle_event(recorder)
    ids = [scenario.run(WaitsForEvent()) for _ in range(5)]
    for workflow_id in ids:
        assert recorder.wait_for(workflow_id, StepStarted, count=2)[:2] == [
            "WorkflowStarted",
            "StepStarted:Hello",
        ]


@pytest.fixture
def built() -> Iterator[list[Any]]:
    """The StepStarted events the engine builds from now on."""
    made: list[Any] = []
    original = StepStarted.__init__

    def counting(self: StepStarted, *args: Any) -> None:
        made.append(args)
        original(self, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StepStarted, "__init__", counting)
        yield made


def test_with_no_handler_no_event_is_built(memory_scenario: Scenario, built: list[Any]) -> None:
    workflow_id = memory_scenario.run(TerminatesOnError())
    memory_scenario.wait_for_status(workflow_id, WorkflowInstance.TERMINATED)
    assert built == []


def test_lifecycle_buffer_must_be_a_positive_int() -> None:
    from liteflow.core import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="lifecycle_buffer"):
        configure_workflow_host(lifecycle_buffer=0)


def test_a_handler_of_some_kinds_gets_only_those(memory_scenario: Scenario) -> None:
    ends = Recorder()
    memory_scenario.host.on_lifecycle_event(ends, kinds=(WorkflowCompleted, WorkflowTerminated))
    workflow_id = memory_scenario.run(TerminatesOnError())
    assert ends.wait_for(workflow_id, WorkflowTerminated) == ["WorkflowTerminated"]


def test_with_only_workflow_kinds_wanted_no_step_event_is_built(
    memory_scenario: Scenario, built: list[Any]
) -> None:
    ends = Recorder()
    memory_scenario.host.on_lifecycle_event(ends, cluster=False, kinds=(WorkflowTerminated,))
    workflow_id = memory_scenario.run(TerminatesOnError())
    assert ends.wait_for(workflow_id, WorkflowTerminated) == ["WorkflowTerminated"]
    assert built == []


def test_kinds_must_be_lifecycle_event_classes(memory_scenario: Scenario) -> None:
    from liteflow.core import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="LifecycleEvent classes"):
        memory_scenario.host.on_lifecycle_event(print, kinds=(str,))  # type: ignore[arg-type]
