"""Compiles a generated program into a real `Workflow`, through the public builder API only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from liteflow.core import (
    ExecutionResult,
    StepBuilder,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowStep,
)

from . import tracing
from .program import (
    Compensation,
    CompensationStep,
    Decide,
    Delay,
    End,
    ForEach,
    If,
    JumpIf,
    Node,
    Parallel,
    Program,
    Record,
    Retry,
    Saga,
    SagaFailure,
    SagaItem,
    SagaStep,
    Sleep,
    SoloFailure,
    Then,
    Wait,
    When,
    While,
)

__all__ = ["CompiledWorkflow", "WAIT_TIMEOUT"]

#: Long enough never to pass during a run: a wait with a timeout must wake on its event.
WAIT_TIMEOUT = timedelta(hours=1)

_THEN = {
    Then.TERMINATE: WorkflowStep.TERMINATE,
    Then.SUSPEND: WorkflowStep.SUSPEND,
    Then.COMPENSATE: WorkflowStep.COMPENSATE,
}

StepFn = Callable[[StepExecutionContext], ExecutionResult | None]


class CompiledWorkflow(Workflow):
    """A program as a registered workflow definition, under an id of the caller's choosing."""

    def __init__(self, program: Program, workflow_id: str) -> None:
        self._program = program
        self._workflow_id = workflow_id

    def id(self) -> str:
        return self._workflow_id

    def build(self, builder: WorkflowBuilder) -> None:
        _compile_block(builder, self._program.body)


def _silent(context: StepExecutionContext) -> None:
    """The first step of a block that starts with a primitive (the builder wants a body first)."""


def _recording(label: str) -> StepFn:
    def step(context: StepExecutionContext) -> None:
        tracing.record(context.workflow.data, label, context.item)

    step.__qualname__ = label
    return step


def _failing(label: str, fails: int) -> StepFn:
    """Records every run; raises on the first `fails` runs of this label for this item."""

    def step(context: StepExecutionContext) -> None:
        data = context.workflow.data
        run = tracing.runs(data, label, context.item)
        tracing.record(data, label, context.item)
        if run < fails:
            raise RuntimeError(f"{label} fails on run {run}")

    step.__qualname__ = label
    return step


def _sleeping(label: str) -> StepFn:
    def step(context: StepExecutionContext) -> ExecutionResult | None:
        if context.persistence_data is None:
            return ExecutionResult.sleep(0, {"slept": True})
        tracing.record(context.workflow.data, label, context.item)
        return None

    step.__qualname__ = label
    return step


def _outcome(label: str, value: int) -> StepFn:
    def step(context: StepExecutionContext) -> ExecutionResult:
        tracing.record(context.workflow.data, label, context.item)
        return ExecutionResult.outcome(value)

    step.__qualname__ = label
    return step


def _loop_entry(label: str) -> StepFn:
    def step(context: StepExecutionContext) -> None:
        tracing.record(context.workflow.data, label, context.item)
        tracing.enter_loop(context.workflow.data, label, context.item)

    step.__qualname__ = f"{label}-entry"
    return step


def _loop_pass(label: str) -> StepFn:
    def step(context: StepExecutionContext) -> None:
        tracing.next_loop_pass(context.workflow.data, label, context.item)
        tracing.record(context.workflow.data, label, context.item)

    step.__qualname__ = f"{label}-pass"
    return step


def _chain(builder: WorkflowBuilder, previous: StepBuilder | None, body: StepFn) -> StepBuilder:
    return builder.start_with(body) if previous is None else previous.then(body)


def _opened(builder: WorkflowBuilder, previous: StepBuilder | None) -> StepBuilder:
    return previous if previous is not None else builder.start_with(_silent)


def _compile_block(
    builder: WorkflowBuilder, block: tuple[Node | SagaItem, ...], previous: StepBuilder | None = None
) -> StepBuilder | None:
    for node in block:
        previous = _compile_node(builder, previous, node)
    return previous


def _block_of(block: tuple[Node | SagaItem, ...], first: StepFn | None = None) -> Callable[[Any], None]:
    """A `do(...)` callback compiling `block` (after `first`, when given)."""

    def build(builder: WorkflowBuilder) -> None:
        _compile_block(builder, block, None if first is None else builder.start_with(first))

    return build


def _compensate(step: StepBuilder, compensation: Compensation) -> None:
    bodies = [_compensation_body(part) for part in compensation.steps]
    if not compensation.sequence:
        step.compensate_with(bodies[0])
        return

    def sequence(builder: WorkflowBuilder) -> None:
        previous: StepBuilder | None = None
        for body in bodies:
            previous = _chain(builder, previous, body)

    step.compensate_with_sequence(sequence)


def _compensation_body(part: CompensationStep) -> StepFn:
    return _sleeping(part.label) if part.sleeps else _recording(part.label)


def _compile_node(builder: WorkflowBuilder, previous: StepBuilder | None, node: Node | SagaItem) -> StepBuilder:
    match node:
        case Record(label, anchor):
            step = _chain(builder, previous, _recording(label))
            return step.id(label) if anchor else step
        case Retry(fails, max_retries, then, label):
            return _chain(builder, previous, _failing(label, fails)).on_error(
                WorkflowStep.RETRY, 0, max_retries=max_retries, then=_THEN[then]
            )
        case SoloFailure(fails, compensation, label) | SagaStep(fails, compensation, label):
            step = _chain(builder, previous, _failing(label, fails))
            if compensation is not None:
                _compensate(step, compensation)
            return step
        case Wait(timeout, label):
            return (
                _opened(builder, previous)
                .wait_for(
                    tracing.event_name(label),
                    lambda data, context: tracing.event_key(context.item),
                    timeout=WAIT_TIMEOUT if timeout else None,
                )
                .output(
                    tracing.event_property(label),
                    lambda step, data: tracing.receive(data, label, step.event_data),
                )
                .then(_recording(label))
            )
        case Sleep(label):
            return _chain(builder, previous, _sleeping(label))
        case Delay(as_number):
            return _opened(builder, previous).delay(0 if as_number else timedelta(0))
        case End(label):
            return _chain(builder, previous, _recording(label)).end_workflow()
        case If(condition, body):
            return _opened(builder, previous).if_(lambda data, context: condition).do(_block_of(body))
        case While(limit, body, label):
            return (
                _chain(builder, previous, _loop_entry(label))
                .while_(lambda data, context: tracing.loop_passes(data, label, context.item) < limit)
                .do(_block_of(body, first=_loop_pass(label)))
            )
        case ForEach(count, parallel, body):
            return (
                _opened(builder, previous)
                .for_each(lambda data, context: tracing.child_items(context.item, count), run_parallel=parallel)
                .do(_block_of(body))
            )
        case When(outcome, cases, label):
            step = _chain(builder, previous, _outcome(label, outcome))
            for value, block in cases:
                step = step.when(value).do(_block_of(block))
            return step
        case Decide(value, branches):
            step = _opened(builder, previous).decide(lambda data, context: value)
            for expected, branch in branches:
                path = builder.create_branch()
                _compile_block(path, branch)
                step.branch(expected, path)
            return step
        case Parallel(branches):
            fork = _opened(builder, previous).parallel()
            for branch in branches:
                fork = fork.do(_block_of(branch))
            return fork.join()
        case JumpIf(limit, _, target, label):
            return (
                _opened(builder, previous)
                .if_(lambda data, context: tracing.runs(data, label, context.item) < limit)
                .do(lambda then: then.start_with(_recording(label)).attach(target))
            )
        case Saga(body, on_error, max_retries, then):
            saga = _opened(builder, previous).saga(_block_of(body))
            if on_error is SagaFailure.TERMINATE:
                return saga.on_error(WorkflowStep.TERMINATE)
            if on_error is SagaFailure.RETRY:
                return saga.on_error(WorkflowStep.RETRY, 0, max_retries=max_retries, then=_THEN[then])
            return saga
    raise AssertionError(f"unknown program node {node!r}")
