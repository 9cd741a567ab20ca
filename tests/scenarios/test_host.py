"""The host's lifecycle and control API."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from liteflow.core import (
    ExecutionResult,
    HostStateError,
    InvalidArgumentError,
    LiteFlowError,
    LocalLockProvider,
    QueueType,
    SingleNodeQueueProvider,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowInstance,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
    configure_workflow_host,
)
from liteflow.core.workers import POLL_RUNNABLES_LOCK
from tests.support import Scenario, running_host, wait_until


class Noop(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class Simple(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop).then(Noop)


class WaitForGo(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop).wait_for("go", lambda data: data["key"]).then(
            lambda context: context.workflow.data.update(done=True)
        )


RELEASE = threading.Event()
STARTED = threading.Event()


class Blocking(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        STARTED.set()
        RELEASE.wait(10)
        context.workflow.data["finished"] = True
        return ExecutionResult.next()


class BlockingWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Blocking)


def test_host_works_as_a_context_manager() -> None:
    host = configure_workflow_host()
    host.register_workflow(Simple())
    with host:
        assert host.is_running
        workflow_id = host.start_workflow("Simple")
        Scenario(host).wait_for_completion(workflow_id)
    assert not host.is_running
    assert all(not thread.is_alive() for thread in host._threads)


def test_each_host_gets_its_own_default_providers() -> None:
    first, second = configure_workflow_host(), configure_workflow_host()
    assert first.persistence_service is not second.persistence_service
    assert first.queue_service is not second.queue_service
    assert first.lock_service is not second.lock_service


def blocked_host(**providers: Any) -> tuple[WorkflowHost, str]:
    """A started host whose one workflow is inside its Blocking step (until RELEASE is set)."""
    RELEASE.clear()
    STARTED.clear()
    host = configure_workflow_host(**providers)
    host.register_workflow(BlockingWorkflow())
    host.start()
    workflow_id = host.start_workflow("BlockingWorkflow", data={})
    assert STARTED.wait(5)
    return host, workflow_id


def test_stop_waits_for_a_running_step_to_finish() -> None:
    host, workflow_id = blocked_host()
    threading.Timer(0.2, RELEASE.set).start()
    host.stop(timeout=5)
    instance = host.get_workflow_instance(workflow_id)
    assert instance.status == WorkflowInstance.COMPLETE
    assert instance.data == {"finished": True}


class RecordingQueue(SingleNodeQueueProvider):
    """Records acknowledgements and shutdowns, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def complete_work(self, queue: QueueType, data: str) -> None:
        self.calls.append(f"complete {data}")

    def shutdown(self) -> None:
        self.calls.append("shutdown")
        super().shutdown()


def test_stop_acknowledges_the_item_in_hand_before_shutting_the_queue() -> None:
    queue = RecordingQueue()
    host, workflow_id = blocked_host(queue_service=queue)
    threading.Timer(0.2, RELEASE.set).start()
    host.stop(timeout=5)
    assert f"complete {workflow_id}" in queue.calls
    assert queue.calls.index(f"complete {workflow_id}") < queue.calls.index("shutdown")


def test_stop_returns_after_its_timeout_and_restart_says_why_it_cannot() -> None:
    host, _ = blocked_host()
    host.stop(timeout=0.2)
    with pytest.raises(HostStateError, match="still finishing a step"):
        host.start()
    RELEASE.set()
    wait_until(lambda: not any(thread.is_alive() for thread in host._threads), what="the step to end")
    host.start()
    host.stop()


class OneRefusalLock(LocalLockProvider):
    """Refuses the first acquire of a workflow's lock, as if another node held it for that
    moment and then let it go without queueing the instance again (as Redlock contenders that
    each won a minority of the servers do)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = threading.Event()
        self.polled = threading.Event()

    def acquire_lock(self, resource: str) -> bool:
        if not resource.startswith("liteflow:") and not self.refused.is_set():
            self.refused.set()
            return False
        return super().acquire_lock(resource)

    def release_lock(self, resource: str) -> None:
        super().release_lock(resource)
        if resource == POLL_RUNNABLES_LOCK:
            self.polled.set()


def test_a_workflow_found_locked_runs_soon_after_the_lock_is_freed() -> None:
    lock = OneRefusalLock()
    host = configure_workflow_host(lock_service=lock, poll_interval=timedelta(seconds=30))
    host.register_workflow(Simple())
    with host:
        assert lock.polled.wait(5), "the poller's first look did not finish"
        workflow_id = host.start_workflow("Simple")
        Scenario(host).wait_for_completion(workflow_id, timeout=5)  # long before the next poll
    assert lock.refused.is_set()


def test_a_stopped_host_starts_again_and_continues_waiting_workflows() -> None:
    host = configure_workflow_host(poll_interval=timedelta(seconds=30))
    host.register_workflow(WaitForGo())
    host.start()
    scenario = Scenario(host)
    workflow_id = scenario.run(WaitForGo(), {"key": "restart"})
    scenario.wait_for_subscription("go", "restart")
    host.stop()
    host.start()
    try:
        host.publish_event("go", "restart")
        assert scenario.wait_for_completion(workflow_id).data["done"] is True
    finally:
        host.stop()


def test_workflows_started_before_start_run_once_the_host_starts() -> None:
    host = configure_workflow_host()
    host.register_workflow(Simple())
    workflow_id = host.start_workflow("Simple")
    assert host.get_workflow_instance(workflow_id).status == WorkflowInstance.RUNNABLE
    with host:
        Scenario(host).wait_for_completion(workflow_id)


def test_unknown_workflow_raises_a_clear_error_naming_id_and_version(memory_scenario: Scenario) -> None:
    with pytest.raises(WorkflowNotRegisteredError, match="'Nope' version 3 is not registered") as caught:
        memory_scenario.host.start_workflow("Nope", 3)
    assert isinstance(caught.value, LiteFlowError)
    assert (caught.value.workflow_id, caught.value.version) == ("Nope", 3)
    with pytest.raises(WorkflowNotRegisteredError, match="'Nope' is not registered"):
        memory_scenario.host.start_workflow("Nope")


def test_get_unknown_instance_raises_workflow_not_found(memory_scenario: Scenario) -> None:
    with pytest.raises(WorkflowNotFoundError, match="no-such-id"):
        memory_scenario.host.get_workflow_instance("no-such-id")


def test_suspend_holds_a_workflow_and_resume_continues_it(memory_scenario: Scenario) -> None:
    workflow_id = memory_scenario.run(WaitForGo(), {"key": "hold"})
    memory_scenario.wait_for_subscription("go", "hold")
    assert memory_scenario.host.suspend_workflow(workflow_id) is True
    assert memory_scenario.host.suspend_workflow(workflow_id) is False
    memory_scenario.host.publish_event("go", "hold")
    wait_until(
        lambda: memory_scenario.instance(workflow_id).execution_pointers[1].event_published, what="event"
    )
    assert memory_scenario.instance(workflow_id).status == WorkflowInstance.SUSPENDED
    assert "done" not in memory_scenario.instance(workflow_id).data
    assert memory_scenario.host.resume_workflow(workflow_id) is True
    assert memory_scenario.wait_for_completion(workflow_id).data["done"] is True
    assert memory_scenario.host.resume_workflow(workflow_id) is False


def test_terminate_ends_a_waiting_workflow_for_good(memory_scenario: Scenario) -> None:
    workflow_id = memory_scenario.run(WaitForGo(), {"key": "end"})
    memory_scenario.wait_for_subscription("go", "end")
    assert memory_scenario.host.terminate_workflow(workflow_id) is True
    instance = memory_scenario.instance(workflow_id)
    assert instance.status == WorkflowInstance.TERMINATED
    assert instance.complete_time is not None
    assert memory_scenario.host.terminate_workflow(workflow_id) is False
    assert memory_scenario.host.resume_workflow(workflow_id) is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"poll_intervall": 1}, "unknown host option"),
        ({"poll_interval": -1}, "must be positive"),
        ({"poll_interval": "soon"}, "timedelta or a number of seconds"),
        ({"max_concurrent_workflows": 0}, "int >= 1"),
        ({"logger": "liteflow"}, "logging.Logger"),
    ],
)
def test_bad_host_options_are_rejected_by_name(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        configure_workflow_host(**options)


def test_options_accept_seconds_and_timedeltas() -> None:
    with running_host(
        poll_interval=2, idle_time=timedelta(milliseconds=10), max_concurrent_workflows=2
    ) as host:
        assert host.options.poll_interval == timedelta(seconds=2)
        assert host.options.idle_time == timedelta(milliseconds=10)
        assert sum(thread.name.startswith("liteflow-workflow") for thread in host._threads) == 2


def test_original_private_persistence_name_still_works(memory_scenario: Scenario) -> None:
    host = memory_scenario.host
    assert host._persistence_service is host.persistence_service


class SleepsHalfASecond(StepBody):
    """A step that blocks its thread, as a call to another service does."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        context.workflow.data["began"] = time.monotonic()
        time.sleep(0.5)
        context.workflow.data["ended"] = time.monotonic()
        return ExecutionResult.next()


class BlocksOnce(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(SleepsHalfASecond)


def test_blocking_steps_of_four_workflows_run_side_by_side_on_the_default_four_workers() -> None:
    with running_host() as host:
        scenario = Scenario(host)
        ids = [scenario.run(BlocksOnce(), {}) for _ in range(4)]
        done = [scenario.wait_for_completion(workflow_id, timeout=10).data for workflow_id in ids]
    began = sorted(data["began"] for data in done)
    # Each waiting workflow got a worker once the ones before were stuck in their step
    # (a few hundredths of a second), not once they finished (half a second each).
    assert began[-1] - began[0] < 0.4
    assert max(data["ended"] for data in done) - began[0] < 1.2


IN_STEP = [0, 0]  # steps inside their wait now, most at once
IN_STEP_LOCK = threading.Lock()


class WaitsOnAServerForThreeMilliseconds(StepBody):
    """A step that blocks briefly, as most calls to another service do."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        with IN_STEP_LOCK:
            IN_STEP[0] += 1
            IN_STEP[1] = max(IN_STEP[1], IN_STEP[0])
        time.sleep(0.003)
        with IN_STEP_LOCK:
            IN_STEP[0] -= 1
        return ExecutionResult.next()


class ShortWaits(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(WaitsOnAServerForThreeMilliseconds).then(WaitsOnAServerForThreeMilliseconds)


def test_steps_that_wait_a_few_milliseconds_each_run_on_several_workers_at_once() -> None:
    IN_STEP[:] = [0, 0]
    with running_host() as host:
        scenario = Scenario(host)
        ids = [scenario.run(ShortWaits(), {}) for _ in range(200)]
        for workflow_id in ids:
            scenario.wait_for_completion(workflow_id, timeout=30)
    # Each step is shorter than the gate's patience, but the first worker spends its time
    # waiting, so the other three join it.
    assert IN_STEP[1] >= 3
