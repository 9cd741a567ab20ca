"""Sleep, delay, schedule and recur really wait, and wake on their own node's timer."""

from __future__ import annotations

import time
from datetime import timedelta
from itertools import pairwise

from liteflow.core import ExecutionResult, StepBody, StepExecutionContext, Workflow, WorkflowBuilder
from liteflow.core.clock import utcnow
from tests.support import Scenario

NAP = 0.3


class Nap(StepBody):
    """Sleeps once for NAP seconds, recording when it went to sleep and woke."""

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        data = context.workflow.data
        if context.persistence_data is None:
            data["slept_at"] = time.monotonic()
            return ExecutionResult.sleep(timedelta(seconds=NAP), "slept")
        data["woke_at"] = time.monotonic()
        return ExecutionResult.next()


class SleepWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Nap)


def stamp(key: str) -> object:
    def step(context: StepExecutionContext) -> None:
        context.workflow.data.setdefault(key, []).append(time.monotonic())

    return step


class DelayWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp("before")).delay(lambda data, context: timedelta(seconds=NAP)).then(
            stamp("after")
        )


class ScheduleWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp("before")).schedule(lambda data: NAP).do(
            lambda then: then.start_with(stamp("scheduled"))
        ).then(stamp("after"))


class RecurWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(stamp("before")).recur(
            lambda data, context: timedelta(milliseconds=100),
            lambda data, context: len(data.get("ticks", [])) >= 3,
        ).do(lambda then: then.start_with(stamp("ticks"))).then(stamp("after"))


def test_sleep_result_waits_its_duration_then_runs_the_step_again(scenario: Scenario) -> None:
    workflow_id = scenario.run(SleepWorkflow(), {})
    data = scenario.wait_for_completion(workflow_id).data
    assert data["woke_at"] - data["slept_at"] >= NAP - 0.01


def test_sleeping_workflow_wakes_on_a_local_timer_not_the_poller(scenario: Scenario) -> None:
    assert scenario.host.options.poll_interval >= timedelta(seconds=30)
    started = utcnow()
    workflow_id = scenario.run(SleepWorkflow(), {})
    scenario.wait_for_completion(workflow_id, timeout=10)
    assert utcnow() - started < timedelta(seconds=10)


def test_delay_waits_then_proceeds(scenario: Scenario) -> None:
    workflow_id = scenario.run(DelayWorkflow(), {})
    data = scenario.wait_for_completion(workflow_id).data
    assert data["after"][0] - data["before"][0] >= NAP - 0.01


def test_schedule_runs_its_block_once_after_the_interval_then_proceeds(scenario: Scenario) -> None:
    workflow_id = scenario.run(ScheduleWorkflow(), {})
    data = scenario.wait_for_completion(workflow_id).data
    assert len(data["scheduled"]) == 1
    assert data["scheduled"][0] - data["before"][0] >= NAP - 0.01
    assert data["after"][0] >= data["scheduled"][0]


def test_recur_repeats_its_block_until_the_stop_condition(scenario: Scenario) -> None:
    workflow_id = scenario.run(RecurWorkflow(), {})
    data = scenario.wait_for_completion(workflow_id).data
    ticks = data["ticks"]
    assert len(ticks) == 3
    assert all(later - earlier >= 0.09 for earlier, later in pairwise(ticks))
