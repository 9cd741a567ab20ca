"""Compiles a generated program into a real `Workflow`, through the public builder API only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from liteflow.core import StepBuilder, Workflow, WorkflowBuilder, WorkflowStep

from . import program as nodes
from . import tracing
from .steps import StepFn, Steps, silent

__all__ = ["CompiledWorkflow", "WAIT_TIMEOUT"]

#: Long enough never to pass during a run: a wait with a timeout must wake on its event.
WAIT_TIMEOUT = timedelta(hours=1)

_THEN = {
    nodes.Then.TERMINATE: WorkflowStep.TERMINATE,
    nodes.Then.SUSPEND: WorkflowStep.SUSPEND,
    nodes.Then.COMPENSATE: WorkflowStep.COMPENSATE,
}


class CompiledWorkflow(Workflow):
    """A program as a registered workflow definition, under an id of the caller's choosing;
    past `max_entries` trace entries the run terminates itself (see `Steps`)."""

    def __init__(self, program: nodes.Program, workflow_id: str, max_entries: int) -> None:
        self._program = program
        self._workflow_id = workflow_id
        self._max_entries = max_entries

    def id(self) -> str:
        return self._workflow_id

    def build(self, builder: WorkflowBuilder) -> None:
        _Compiler(Steps(self._max_entries)).block(builder, self._program.body)


def _chain(builder: WorkflowBuilder, previous: StepBuilder | None, body: StepFn) -> StepBuilder:
    return builder.start_with(body) if previous is None else previous.then(body)


def _opened(builder: WorkflowBuilder, previous: StepBuilder | None) -> StepBuilder:
    return previous if previous is not None else builder.start_with(silent)


class _Compiler:
    def __init__(self, steps: Steps) -> None:
        self._steps = steps

    def block(
        self,
        builder: WorkflowBuilder,
        block: tuple[nodes.Node | nodes.SagaItem, ...],
        previous: StepBuilder | None = None,
    ) -> StepBuilder | None:
        for node in block:
            previous = self._node(builder, previous, node)
        return previous

    def _block_of(
        self, block: tuple[nodes.Node | nodes.SagaItem, ...], first: StepFn | None = None
    ) -> Callable[[WorkflowBuilder], None]:
        """A `do(...)` callback compiling `block` (after `first`, when given)."""

        def build(builder: WorkflowBuilder) -> None:
            self.block(builder, block, None if first is None else builder.start_with(first))

        return build

    def _compensate(self, step: StepBuilder, compensation: nodes.Compensation) -> None:
        bodies = [self._compensation_body(part) for part in compensation.steps]
        if not compensation.sequence:
            step.compensate_with(bodies[0])
            return

        def sequence(builder: WorkflowBuilder) -> None:
            previous: StepBuilder | None = None
            for body in bodies:
                previous = _chain(builder, previous, body)

        step.compensate_with_sequence(sequence)

    def _compensation_body(self, part: nodes.CompensationStep) -> StepFn:
        return self._steps.sleeping(part.label) if part.sleeps else self._steps.recording(part.label)

    def _node(
        self, builder: WorkflowBuilder, previous: StepBuilder | None, node: nodes.Node | nodes.SagaItem
    ) -> StepBuilder:
        steps = self._steps
        match node:
            case nodes.Record(label, anchor):
                step = _chain(builder, previous, steps.recording(label))
                return step.id(label) if anchor else step
            case nodes.Retry(fails, max_retries, then, label):
                return _chain(builder, previous, steps.failing(label, fails)).on_error(
                    WorkflowStep.RETRY, 0, max_retries=max_retries, then=_THEN[then]
                )
            case nodes.Failing(fails, compensation, label):
                step = _chain(builder, previous, steps.failing(label, fails))
                if compensation is not None:
                    self._compensate(step, compensation)
                return step
            case nodes.Wait(timeout, label):
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
                    .then(steps.recording(label))
                )
            case nodes.Sleep(label):
                return _chain(builder, previous, steps.sleeping(label))
            case nodes.Delay(as_number):
                return _opened(builder, previous).delay(0 if as_number else timedelta(0))
            case nodes.End(label):
                return _chain(builder, previous, steps.recording(label)).end_workflow()
            case nodes.If(condition, body):
                return (
                    _opened(builder, previous).if_(lambda data, context: condition).do(self._block_of(body))
                )
            case nodes.While(limit, body, label):
                return (
                    _chain(builder, previous, steps.loop_entry(label))
                    .while_(lambda data, context: tracing.loop_passes(data, label, context.item) < limit)
                    .do(self._block_of(body, first=steps.loop_pass(label)))
                )
            case nodes.ForEach(count, parallel, body):
                return (
                    _opened(builder, previous)
                    .for_each(
                        lambda data, context: tracing.child_items(context.item, count), run_parallel=parallel
                    )
                    .do(self._block_of(body))
                )
            case nodes.When(outcome, cases, label):
                step = _chain(builder, previous, steps.outcome(label, outcome))
                for value, block in cases:
                    step = step.when(value).do(self._block_of(block))
                return step
            case nodes.Decide(value, branches):
                step = _opened(builder, previous).decide(lambda data, context: value)
                for expected, branch in branches:
                    path = builder.create_branch()
                    self.block(path, branch)
                    step.branch(expected, path)
                return step
            case nodes.Parallel(branches):
                fork = _opened(builder, previous).parallel()
                for branch in branches:
                    fork = fork.do(self._block_of(branch))
                return fork.join()
            case nodes.JumpIf(limit, _, target, label):
                return (
                    _opened(builder, previous)
                    .if_(lambda data, context: tracing.runs(data, label, context.item) < limit)
                    .do(lambda then: then.start_with(steps.recording(label)).attach(target))
                )
            case nodes.Saga(body, on_error, max_retries, then):
                saga = _opened(builder, previous).saga(self._block_of(body))
                if on_error is nodes.SagaFailure.TERMINATE:
                    return saga.on_error(WorkflowStep.TERMINATE)
                if on_error is nodes.SagaFailure.RETRY:
                    return saga.on_error(WorkflowStep.RETRY, 0, max_retries=max_retries, then=_THEN[then])
                return saga
        raise AssertionError(f"unknown program node {node!r}")
