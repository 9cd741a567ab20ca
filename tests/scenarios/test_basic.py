"""Steps, inline steps, data in and out: the seed's first sections."""

from __future__ import annotations

from typing import Any

from liteflow.core import (
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowInstance,
)
from tests.support import Scenario

RUNS: list[str] = []


class Hello(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult | None:
        RUNS.append(f"hello:{context.workflow.id}")
        return None


class Goodbye(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        RUNS.append(f"goodbye:{context.workflow.id}")
        return ExecutionResult.next()


class HelloGoodbye(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).then(Goodbye)


class AddNumbers(StepBody):
    def __init__(self) -> None:
        self.input1 = 0
        self.input2 = 0
        self.output = 0

    def run(self, context: StepExecutionContext) -> ExecutionResult:
        self.output = self.input1 + self.input2
        return ExecutionResult.next()


class Numbers:
    def __init__(self, value1: int = 0, value2: int = 0) -> None:
        self.value1 = value1
        self.value2 = value2
        self.value3 = 0


class AddWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Hello).then(AddNumbers).input("input1", lambda data, context: data.value1).input(
            "input2", lambda data, context: data.value2
        ).output("value3", lambda step: step.output).then(Goodbye)


class DictAddWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(AddNumbers).input("input1", lambda data: data["a"]).input(
            "input2", lambda data: data["b"]
        ).output("total", lambda step: step.output)


def greet(context: StepExecutionContext) -> None:
    RUNS.append(f"function:{context.workflow.id}")


class InlineWorkflow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(greet).then(lambda context: RUNS.append(f"lambda:{context.workflow.id}")).then(
            lambda context: ExecutionResult.next()
        )


def runs_of(workflow_id: str) -> list[str]:
    return [run.split(":")[0] for run in RUNS if run.endswith(workflow_id)]


def test_steps_run_once_each_in_order_and_the_workflow_completes(scenario: Scenario) -> None:
    workflow_id = scenario.run(HelloGoodbye())
    instance = scenario.wait_for_completion(workflow_id)
    assert runs_of(workflow_id) == ["hello", "goodbye"]
    assert instance.complete_time is not None
    assert all(pointer.end_time is not None for pointer in instance.execution_pointers)


def test_workflow_id_defaults_to_class_name_and_version_to_one(scenario: Scenario) -> None:
    scenario.host.register_workflow(HelloGoodbye())
    workflow_id = scenario.host.start_workflow("HelloGoodbye", 1)
    instance = scenario.wait_for_completion(workflow_id)
    assert (instance.workflow_definition_id, instance.version) == ("HelloGoodbye", 1)


def test_start_without_version_runs_the_latest_registered(scenario: Scenario) -> None:
    class Versioned(Workflow):
        def __init__(self, version: int, step: Any) -> None:
            self._version = version
            self._step = step

        def id(self) -> str:
            return "Versioned"

        def version(self) -> int:
            return self._version

        def build(self, builder: WorkflowBuilder) -> None:
            builder.start_with(self._step)

    scenario.host.register_workflow(Versioned(2, Goodbye))
    scenario.host.register_workflow(Versioned(1, Hello))
    instance = scenario.wait_for_completion(scenario.host.start_workflow("Versioned"))
    assert instance.version == 2
    assert runs_of(instance.id) == ["goodbye"]


def test_inputs_and_outputs_map_object_data(scenario: Scenario) -> None:
    workflow_id = scenario.run(AddWorkflow(), Numbers(2, 3))
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data.value3 == 5


def test_outputs_set_keys_of_dict_data(scenario: Scenario) -> None:
    workflow_id = scenario.run(DictAddWorkflow(), {"a": 4, "b": 6})
    instance = scenario.wait_for_completion(workflow_id)
    assert instance.data == {"a": 4, "b": 6, "total": 10}


def test_functions_and_lambdas_run_as_steps(scenario: Scenario) -> None:
    workflow_id = scenario.run(InlineWorkflow())
    scenario.wait_for_completion(workflow_id)
    assert runs_of(workflow_id) == ["function", "lambda"]


def test_data_type_provides_data_when_none_is_given(scenario: Scenario) -> None:
    class TypedAdd(AddWorkflow):
        data_type = Numbers

    instance = scenario.wait_for_completion(scenario.run(TypedAdd()))
    assert isinstance(instance.data, Numbers) and instance.data.value3 == 0


def test_instances_of_one_definition_do_not_share_data(scenario: Scenario) -> None:
    ids = [scenario.run(AddWorkflow(), Numbers(n, n)) for n in range(1, 4)]
    totals = [scenario.wait_for_completion(workflow_id).data.value3 for workflow_id in ids]
    assert totals == [2, 4, 6]
    assert all(scenario.instance(workflow_id).status == WorkflowInstance.COMPLETE for workflow_id in ids)
