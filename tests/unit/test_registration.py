"""Malformed definitions fail at register_workflow, naming the workflow and the problem."""

from __future__ import annotations

from typing import Any

import pytest

from liteflow.core import (
    DuplicateWorkflowError,
    ExecutionResult,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowDefinitionError,
    WorkflowStep,
    configure_workflow_host,
)


class Noop(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class Built(Workflow):
    def __init__(self, build: Any) -> None:
        self._build = build

    def id(self) -> str:
        return "Broken"

    def build(self, builder: WorkflowBuilder) -> None:
        self._build(builder)


def register(build: Any) -> None:
    configure_workflow_host().register_workflow(Built(build))


def test_then_before_start_with_names_the_workflow() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"workflow 'Broken' version 1: then\(\) called before"):
        register(lambda b: b.then(Noop))


def test_step_that_is_neither_a_step_body_nor_callable_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"'Broken'.*StepBody subclass or a callable, got int"):
        register(lambda b: b.start_with(Noop).then(42))


def test_class_that_is_not_a_step_body_is_rejected() -> None:
    class NotAStep:
        pass

    with pytest.raises(WorkflowDefinitionError, match="NotAStep is a class but not a StepBody"):
        register(lambda b: b.start_with(NotAStep))


def test_step_body_without_run_is_rejected() -> None:
    class Abstract(StepBody):
        pass

    with pytest.raises(WorkflowDefinitionError, match="does not implement run"):
        register(lambda b: b.start_with(Abstract))


def test_empty_build_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="added no steps"):
        register(lambda b: None)


def test_container_without_do_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="has no do"):
        register(lambda b: b.start_with(Noop).for_each(lambda data: []).then(Noop))


def test_do_block_without_steps_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="block added no steps"):
        register(lambda b: b.start_with(Noop).if_(lambda data: True).do(lambda x: None))


def test_do_after_a_plain_step_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"do\(\) only follows"):
        register(lambda b: b.start_with(Noop).do(lambda x: x.start_with(Noop)))


def test_wait_for_needs_an_event_name() -> None:
    with pytest.raises(WorkflowDefinitionError, match="event name"):
        register(lambda b: b.start_with(Noop).wait_for("", "key"))


def test_unknown_error_behaviour_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="unknown error behaviour 9"):
        register(lambda b: b.start_with(Noop).on_error(9))


def test_exception_inside_build_is_wrapped_with_the_workflow_name() -> None:
    def build(builder: WorkflowBuilder) -> None:
        raise KeyError("missing setting")

    with pytest.raises(WorkflowDefinitionError, match="'Broken' version 1: build\\(\\) raised KeyError"):
        register(build)


def test_registering_the_same_id_and_version_twice_is_rejected() -> None:
    host = configure_workflow_host()
    host.register_workflow(Built(lambda b: b.start_with(Noop)))
    with pytest.raises(DuplicateWorkflowError, match="'Broken' version 1 is already registered"):
        host.register_workflow(Built(lambda b: b.start_with(Noop)))


def test_registering_a_class_instead_of_an_instance_says_so() -> None:
    with pytest.raises(WorkflowDefinitionError, match="pass an instance"):
        configure_workflow_host().register_workflow(Built)  # type: ignore[arg-type]


def test_failed_registration_leaves_nothing_registered() -> None:
    host = configure_workflow_host()
    with pytest.raises(WorkflowDefinitionError):
        host.register_workflow(Built(lambda b: b.start_with(Noop).then(42)))
    assert not host.registry.is_registered("Broken")
    host.register_workflow(Built(lambda b: b.start_with(Noop)))
    assert host.registry.is_registered("Broken", 1)


def test_join_without_parallel_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"'Broken'.*join\(\) without parallel\(\)"):
        register(lambda b: b.start_with(Noop).then(Noop).join())


def test_parallel_without_branches_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="no do"):
        register(lambda b: b.start_with(Noop).parallel().join())


def test_attach_to_an_unknown_id_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"attach\('nowhere'\).*known ids: start"):
        register(lambda b: b.start_with(Noop).id("start").then(Noop).attach("nowhere"))


def test_two_steps_with_the_same_id_are_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="two steps have the id 'twin'"):
        register(lambda b: b.start_with(Noop).id("twin").then(Noop).id("twin"))


def test_when_without_a_preceding_step_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"when\(\) needs a preceding step"):
        register(lambda b: b.when(1).do(lambda x: x.start_with(Noop)))


def test_when_block_without_steps_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="block added no steps"):
        register(lambda b: b.start_with(Noop).when(1).do(lambda x: None))


def test_saga_without_steps_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"saga\(\) on step .*: the block added no steps"):
        register(lambda b: b.start_with(Noop).saga(lambda s: None))


def test_branch_must_come_from_create_branch() -> None:
    with pytest.raises(WorkflowDefinitionError, match="create_branch"):
        register(lambda b: b.start_with(Noop).decide(lambda data: 1).branch(1, "elsewhere"))


def test_branch_from_another_workflow_is_rejected() -> None:
    other = WorkflowBuilder()
    other.start_with(Noop)
    with pytest.raises(WorkflowDefinitionError, match="another workflow's builder"):
        register(lambda b: b.start_with(Noop).decide(lambda data: 1).branch(1, other))


def test_compensation_set_twice_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="compensation set twice"):
        register(lambda b: b.start_with(Noop).compensate_with(Noop).compensate_with(Noop))


def test_retry_fallback_cannot_be_retry() -> None:
    with pytest.raises(WorkflowDefinitionError, match="then= must be"):
        register(
            lambda b: b.start_with(Noop).on_error(
                WorkflowStep.RETRY, 1, max_retries=1, then=WorkflowStep.RETRY
            )
        )


def test_negative_wait_timeout_is_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="must not be negative"):
        register(lambda b: b.start_with(Noop).wait_for("e", "k", timeout=-1))
