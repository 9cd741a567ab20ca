"""Foreach, while and if, and the foreach item reaching steps nested in other containers."""

from __future__ import annotations

from typing import Any

from liteflow.core import ExecutionResult, StepBody, StepExecutionContext, Workflow, WorkflowBuilder
from tests.support import Scenario


class Record(StepBody):
    """Appends the current context item (or a marker) to data['seen']."""

    def __init__(self) -> None:
        self.marker: Any = None

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        value = self.marker if self.marker is not None else context.item
        context.workflow.data.setdefault("seen", []).append(value)
        return ExecutionResult.next()


class Increment(StepBody):
    def __init__(self) -> None:
        self.value = 0
        self.result = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        self.result = self.value + 1
        return ExecutionResult.next()


class ForeachWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Record).input("marker", "start").for_each(lambda data, context: data["items"]).do(
            lambda x: x.start_with(Record)
        ).then(Record).input("marker", "end")


class WhileWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Record).input("marker", "start").while_(
            lambda data, context: data["counter"] < 3
        ).do(
            lambda do: (
                do.start_with(Increment)
                .input("value", lambda data, context: data["counter"])
                .output("counter", lambda step: step.result)
                .then(Record)
                .input("marker", lambda data, context: data["counter"])
            )
        ).then(Record).input("marker", "end")


class IfWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Record).input("marker", "start").if_(lambda data, context: data["value"] > 3).do(
            lambda x: x.start_with(Record).input("marker", "inside")
        ).then(Record).input("marker", "end")


class NestedInForeachWorkflow(Workflow):
    """If and while inside a foreach: their steps still see the foreach item."""

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Record).input("marker", "start").for_each(lambda data: data["items"]).do(
            lambda each: (
                each.start_with(Record)
                .if_(lambda data, context: True)
                .do(lambda then: then.start_with(Record))
                .while_(lambda data, context: len(data.setdefault("loops", [])) < len(data["items"]))
                .do(
                    lambda loop: loop.start_with(
                        lambda context: context.workflow.data["loops"].append(context.item)
                    )
                )
            )
        )


def test_foreach_runs_its_block_once_per_item(scenario: Scenario) -> None:
    workflow_id = scenario.run(ForeachWorkflow(), {"items": ["abc", "def", "xyz"]})
    seen = scenario.wait_for_completion(workflow_id).data["seen"]
    assert seen[0] == "start" and seen[-1] == "end"
    assert sorted(seen[1:-1]) == ["abc", "def", "xyz"]


def test_foreach_over_an_empty_collection_completes(scenario: Scenario) -> None:
    workflow_id = scenario.run(ForeachWorkflow(), {"items": []})
    assert scenario.wait_for_completion(workflow_id).data["seen"] == ["start", "end"]


def test_while_repeats_its_block_until_the_condition_fails(scenario: Scenario) -> None:
    workflow_id = scenario.run(WhileWorkflow(), {"counter": 0})
    data = scenario.wait_for_completion(workflow_id).data
    assert data["counter"] == 3
    assert data["seen"] == ["start", 1, 2, 3, "end"]


def test_while_whose_condition_is_false_skips_its_block(scenario: Scenario) -> None:
    workflow_id = scenario.run(WhileWorkflow(), {"counter": 5})
    assert scenario.wait_for_completion(workflow_id).data["seen"] == ["start", "end"]


def test_if_runs_its_block_when_the_condition_holds(scenario: Scenario) -> None:
    workflow_id = scenario.run(IfWorkflow(), {"value": 4})
    assert scenario.wait_for_completion(workflow_id).data["seen"] == ["start", "inside", "end"]


def test_if_skips_its_block_when_the_condition_fails(scenario: Scenario) -> None:
    workflow_id = scenario.run(IfWorkflow(), {"value": 3})
    assert scenario.wait_for_completion(workflow_id).data["seen"] == ["start", "end"]


def test_context_item_reaches_steps_in_if_and_while_nested_in_foreach(scenario: Scenario) -> None:
    workflow_id = scenario.run(NestedInForeachWorkflow(), {"items": ["a", "b"]})
    data = scenario.wait_for_completion(workflow_id).data
    assert sorted(data["seen"][1:]) == ["a", "a", "b", "b"]
    assert None not in data["loops"]
    assert set(data["loops"]) <= {"a", "b"}
