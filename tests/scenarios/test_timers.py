"""Sleep, delay, schedule, recur, wait timeouts and retries wait on the host's clock, and wake
on their own node's timer: on a `FakeClock`, hours pass in milliseconds, and not before."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from liteflow.core import (
    WAIT_TIMEOUT,
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowHost,
    WorkflowInstance,
    WorkflowStep,
)
from liteflow.core.clock import utcnow
from liteflow.core.testing import FakeClock
from tests.support import Scenario, running_host, sqlite_persistence, wait_until

NAP = 0.3
HOUR = timedelta(hours=1)
#: Seconds a woken workflow may take to finish: far under the hosts' 30 s poll interval, so only
#: a wake on the clock's advance meets it, with room for a loaded machine and the slow MongoDB wire server.
WAKE_BOUND = 5.0
#: How long (real time) a workflow is watched for waking too early.
EARLY_WATCH = 0.1


def now_of(context: StepExecutionContext) -> datetime:
    assert context.host is not None
    return context.host.clock.now()


class Nap(StepBody):
    """Sleeps once for an hour, recording (on the host's clock) when it went to sleep and woke."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = context.workflow.data
        if context.persistence_data is None:
            data["slept_at"] = now_of(context)
            return ExecutionResult.sleep(HOUR, "slept")
        data["woke_at"] = now_of(context)
        return ExecutionResult.next()


class SleepWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Nap)


class RealNap(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        if context.persistence_data is None:
            return ExecutionResult.sleep(timedelta(seconds=NAP), "slept")
        return ExecutionResult.next()


class RealSleepWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(RealNap)


def stamp(key: str) -> object:
    def step(context: StepExecutionContext) -> None:
        context.workflow.data.setdefault(key, []).append(now_of(context))

    return step


class DelayWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp("before")).delay(lambda data, context: HOUR).then(stamp("after"))


class ScheduleWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp("before")).schedule(lambda data: HOUR).do(
            lambda then: then.start_with(stamp("scheduled"))
        ).then(stamp("after"))


class RecurWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp("before")).recur(
            lambda data, context: timedelta(days=1),
            lambda data, context: len(data.get("ticks", [])) >= 3,
        ).do(lambda then: then.start_with(stamp("ticks"))).then(stamp("after"))


class ApprovalWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp("asked")).wait_for(
            "approved", lambda data: "order-1", timeout=timedelta(days=2)
        ).output("approval", lambda step: step.event_data).when(WAIT_TIMEOUT).do(
            lambda then: then.start_with(stamp("escalated"))
        ).then(stamp("done"))


class FailsOnce(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        context.workflow.data.setdefault("tries", []).append(now_of(context))
        if len(context.workflow.data["tries"]) == 1:
            raise ValueError("try again later")
        return ExecutionResult.next()


class RetriedAfterTenMinutes(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(FailsOnce).on_error(WorkflowStep.RETRY, timedelta(minutes=10))


def asleep(scenario: Scenario, workflow_id: str) -> None:
    """Wait until the instance is stored waiting for a time on the clock."""
    clock = scenario.host.clock

    def stored_asleep() -> bool:
        instance = scenario.instance(workflow_id)
        return instance.next_execution is not None and instance.next_execution > clock.now()

    wait_until(stored_asleep, what=f"workflow {workflow_id} to sleep")


def still_runnable(scenario: Scenario, workflow_id: str) -> bool:
    time.sleep(EARLY_WATCH)
    return scenario.instance(workflow_id).status == WorkflowInstance.RUNNABLE


def advance(scenario: Scenario, duration: timedelta) -> None:
    clock = scenario.host.clock
    assert isinstance(clock, FakeClock)
    clock.advance(duration)


def test_a_sleep_wakes_when_the_clock_reaches_it_and_not_before(clocked_scenario: Scenario) -> None:
    workflow_id = clocked_scenario.run(SleepWorkflow(), {})
    asleep(clocked_scenario, workflow_id)
    advance(clocked_scenario, HOUR - timedelta(milliseconds=1))
    assert still_runnable(clocked_scenario, workflow_id)
    advance(clocked_scenario, timedelta(milliseconds=1))
    data = clocked_scenario.wait_for_completion(workflow_id, timeout=WAKE_BOUND).data
    assert data["woke_at"] - data["slept_at"] == HOUR


def test_a_one_hour_delay_completes_within_milliseconds_of_the_clock_passing_it(
    clocked_scenario: Scenario,
) -> None:
    workflow_id = clocked_scenario.run(DelayWorkflow(), {})
    asleep(clocked_scenario, workflow_id)
    assert still_runnable(clocked_scenario, workflow_id)
    advanced = time.monotonic()
    advance(clocked_scenario, HOUR)
    data = clocked_scenario.wait_for_completion(workflow_id, timeout=WAKE_BOUND).data
    assert time.monotonic() - advanced < WAKE_BOUND
    assert data["after"][0] - data["before"][0] == HOUR


def test_schedule_runs_its_block_once_after_the_interval_then_proceeds(clocked_scenario: Scenario) -> None:
    workflow_id = clocked_scenario.run(ScheduleWorkflow(), {})
    asleep(clocked_scenario, workflow_id)
    assert still_runnable(clocked_scenario, workflow_id)
    advance(clocked_scenario, HOUR)
    data = clocked_scenario.wait_for_completion(workflow_id, timeout=WAKE_BOUND).data
    assert data["scheduled"] == [data["before"][0] + HOUR]
    assert data["after"] == data["scheduled"]


def test_recur_runs_its_block_at_once_then_every_interval_until_the_stop_condition(
    clocked_scenario: Scenario,
) -> None:
    workflow_id = clocked_scenario.run(RecurWorkflow(), {})
    for _ in range(3):
        asleep(clocked_scenario, workflow_id)
        assert still_runnable(clocked_scenario, workflow_id)
        advance(clocked_scenario, timedelta(days=1))
    data = clocked_scenario.wait_for_completion(workflow_id, timeout=WAKE_BOUND).data
    begun = data["before"][0]
    assert data["ticks"] == [begun, begun + timedelta(days=1), begun + timedelta(days=2)]
    assert data["after"] == [begun + timedelta(days=3)]


def test_a_two_day_wait_timeout_passes_in_milliseconds(clocked_scenario: Scenario) -> None:
    started = time.monotonic()
    workflow_id = clocked_scenario.run(ApprovalWorkflow(), {})
    asleep(clocked_scenario, workflow_id)
    advance(clocked_scenario, timedelta(days=1))
    assert still_runnable(clocked_scenario, workflow_id)
    advance(clocked_scenario, timedelta(days=1))
    data = clocked_scenario.wait_for_completion(workflow_id, timeout=WAKE_BOUND).data
    assert data["escalated"][0] - data["asked"][0] == timedelta(days=2)
    assert data["approval"] is None
    assert time.monotonic() - started < WAKE_BOUND


def test_a_retry_interval_is_measured_on_the_hosts_clock(clocked_scenario: Scenario) -> None:
    workflow_id = clocked_scenario.run(RetriedAfterTenMinutes(), {})
    asleep(clocked_scenario, workflow_id)
    assert still_runnable(clocked_scenario, workflow_id)
    advance(clocked_scenario, timedelta(minutes=10))
    first, second = clocked_scenario.wait_for_completion(workflow_id, timeout=WAKE_BOUND).data["tries"]
    assert second - first == timedelta(minutes=10)


def test_an_event_with_a_future_effective_date_is_delivered_when_the_clock_reaches_it(
    clocked_scenario: Scenario,
) -> None:
    host = clocked_scenario.host
    workflow_id = clocked_scenario.run(ApprovalWorkflow(), {})
    clocked_scenario.wait_for_subscription("approved", "order-1")
    host.publish_event("approved", "order-1", "yes", effective_date=host.clock.now() + HOUR)
    assert still_runnable(clocked_scenario, workflow_id)
    advance(clocked_scenario, HOUR)
    data = clocked_scenario.wait_for_completion(workflow_id, timeout=WAKE_BOUND).data
    assert data["approval"] == "yes"
    assert "escalated" not in data


def test_the_poller_finds_work_due_on_the_hosts_clock_after_a_restart() -> None:
    start = utcnow()
    with sqlite_persistence() as store:
        with running_host(store, clock=FakeClock(start)) as first:
            scenario = Scenario(first)
            workflow_id = scenario.run(DelayWorkflow(), {})
            asleep(scenario, workflow_id)
        polling = {"poll_interval": timedelta(milliseconds=50)}

        def prepare(host: WorkflowHost) -> None:
            host.register_workflow(DelayWorkflow())

        with running_host(store, prepare, clock=FakeClock(start + HOUR / 2), **polling) as early:
            assert still_runnable(Scenario(early), workflow_id)
        with running_host(store, prepare, clock=FakeClock(start + 2 * HOUR), **polling) as late:
            data = Scenario(late).wait_for_completion(workflow_id, timeout=2).data
    assert data["after"][0] - data["before"][0] == 2 * HOUR


def test_a_real_sleep_wakes_on_a_local_timer_not_the_poller(scenario: Scenario) -> None:
    assert scenario.host.options.poll_interval >= timedelta(seconds=30)
    started = time.monotonic()
    workflow_id = scenario.run(RealSleepWorkflow(), {})
    scenario.wait_for_completion(workflow_id, timeout=10)
    assert NAP <= time.monotonic() - started < 10


def test_advancing_right_after_a_start_lets_the_workflow_fall_asleep_first() -> None:
    clock = FakeClock()
    with running_host(clock=clock) as host:
        scenario = Scenario(host)
        workflow_id = scenario.run(DelayWorkflow(), {})
        clock.advance(HOUR)  # no wait for the sleep: advance waits until nothing is due now
        data = scenario.wait_for_completion(workflow_id, timeout=WAKE_BOUND).data
    assert data["after"][0] - data["before"][0] == HOUR
