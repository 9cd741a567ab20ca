"""The reference interpreter: the INTENDED semantics of the builder, in plain Python.

No threads, no persistence, no engine: blocks run in order, branches that the engine runs side
by side run here one after another (the expectation records that they are unordered), a jump
is an exception caught by the block holding its target (so it leaves every block in between,
and the items of the for_each loops among them), and a stop is an exception that ends the run.
"""

from __future__ import annotations

import contextlib

from liteflow.core import WorkflowInstance

from . import program as nodes
from . import tracing
from .expectation import Expectation, ExpectationBuilder

__all__ = ["ProgramTooLongError", "interpret"]

_STOP_STATUS = {
    nodes.Then.TERMINATE: WorkflowInstance.TERMINATED,
    nodes.Then.SUSPEND: WorkflowInstance.SUSPENDED,
}


class ProgramTooLongError(Exception):
    """The program would record more entries than a test wants to run."""


class _JumpError(Exception):
    """Not an error: `attach` jumping to `target`, caught by the block that holds it."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class _StoppedError(Exception):
    """Not an error: the workflow has ended (its stop is recorded); unwinds every block."""


class _SagaFailedError(Exception):
    """A step of a saga failed; carries the failed step's own compensation."""

    def __init__(self, compensation: nodes.Compensation | None) -> None:
        super().__init__()
        self.compensation = compensation


def interpret(program: nodes.Program, max_entries: int = 400) -> Expectation:
    """The expected trace order, stops and final data of `program`."""
    return _Interpreter(max_entries).run(program)


class _Interpreter:
    def __init__(self, max_entries: int) -> None:
        self._data = tracing.new_data()
        self._trace = ExpectationBuilder()
        self._max_entries = max_entries

    def run(self, program: nodes.Program) -> Expectation:
        with contextlib.suppress(_StoppedError):
            self._block(program.body, None)
        return self._trace.build(self._data)

    def _record(self, label: str, item: str | None) -> None:
        self._trace.add(tracing.record(self._data, label, item))
        if len(self._trace.order) > self._max_entries:
            raise ProgramTooLongError(f"more than {self._max_entries} entries")

    def _attempt(self, label: str, fails: int, item: str | None) -> bool:
        """Run a step that fails on its first `fails` runs; True if this run failed."""
        failed = tracing.runs(self._data, label, item) < fails
        self._record(label, item)
        return failed

    def _stop(self, status: int, immediate: bool) -> None:
        self._trace.stop(status, immediate)
        raise _StoppedError

    def _block(self, block: tuple[nodes.Node, ...], item: str | None) -> None:
        index = 0
        while index < len(block):
            try:
                self._node(block[index], item)
            except _JumpError as jump:
                target = _position(block, jump.target)
                if target is None:
                    raise
                index = target
                continue
            index += 1

    def _side_by_side(self, branches: list[tuple[tuple[nodes.Node, ...], str | None]]) -> None:
        """Branches the engine runs at once: each starts after what came before them."""
        if not branches:
            return
        start = self._trace.tails
        ends: list[frozenset[str]] = []
        stopped = False
        for block, item in branches:
            self._trace.tails = start
            try:
                self._block(block, item)
            except _StoppedError:
                stopped = True
            except _JumpError as jump:
                raise AssertionError(f"jump to {jump.target} left a parallel branch") from None
            ends.append(self._trace.tails)
        self._trace.tails = frozenset().union(*ends)
        if stopped:
            raise _StoppedError

    def _node(self, node: nodes.Node, item: str | None) -> None:
        match node:
            case nodes.Record(label) | nodes.Sleep(label):
                self._record(label, item)
            case nodes.Retry():
                self._retry(node, item, in_saga=False)
            case nodes.Failing(fails, compensation, label):
                if self._attempt(label, fails, item):
                    self._compensate(compensation, item)
            case nodes.Wait(_, label):
                self._wait(label, item)
            case nodes.Delay():
                pass
            case nodes.End(label):
                self._record(label, item)
                self._stop(WorkflowInstance.COMPLETE, immediate=False)
            case nodes.If(condition, body):
                if condition:
                    self._block(body, item)
            case nodes.While(limit, body, label):
                self._record(label, item)
                tracing.enter_loop(self._data, label, item)
                while tracing.loop_passes(self._data, label, item) < limit:
                    tracing.next_loop_pass(self._data, label, item)
                    self._record(label, item)
                    self._block(body, item)
            case nodes.ForEach(count, parallel, body):
                items = tracing.child_items(item, count)
                if parallel:
                    self._side_by_side([(body, child) for child in items])
                else:
                    for child in items:
                        self._block(body, child)
            case nodes.When(outcome, cases, label):
                self._record(label, item)
                self._side_by_side([(block, item) for value, block in cases if value == outcome])
            case nodes.Decide(value, branches):
                for expected, block in branches:
                    if expected == value:
                        self._block(block, item)
            case nodes.Parallel(branches):
                self._side_by_side([(block, item) for block in branches])
            case nodes.JumpIf(limit, _, target, label):
                if tracing.runs(self._data, label, item) < limit:
                    self._record(label, item)
                    raise _JumpError(target)
            case nodes.Saga():
                self._saga(node, item)

    def _wait(self, label: str, item: str | None) -> None:
        name = tracing.event_name(label)
        payload = tracing.event_payload(name, tracing.event_key(item))
        self._data[tracing.event_property(label)] = tracing.receive(self._data, label, payload)
        self._record(label, item)

    def _retry(self, node: nodes.Retry, item: str | None, in_saga: bool) -> None:
        """Up to max_retries + 1 runs; then the fallback applies."""
        for _ in range(node.max_retries + 1):
            if not self._attempt(node.label, node.fails, item):
                return
        if node.then is nodes.Then.COMPENSATE:
            if in_saga:
                raise _SagaFailedError(None)
            return
        self._stop(_STOP_STATUS[node.then], immediate=True)

    def _compensate(self, compensation: nodes.Compensation | None, item: str | None) -> None:
        if compensation is not None:
            for step in compensation.steps:
                self._record(step.label, item)

    def _saga(self, saga: nodes.Saga, item: str | None) -> None:
        """Compensate the failed step, then the completed ones latest first, then apply on_error."""
        attempts = 0
        while True:
            completed: list[nodes.Compensation] = []
            try:
                for part in saga.body:
                    self._saga_item(part, item, completed)
                return
            except _SagaFailedError as failure:
                self._compensate(failure.compensation, item)
                for compensation in reversed(completed):
                    self._compensate(compensation, item)
            attempts += 1
            if saga.on_error is nodes.SagaFailure.CONTINUE:
                return
            if saga.on_error is nodes.SagaFailure.TERMINATE:
                self._stop(WorkflowInstance.TERMINATED, immediate=False)
            if attempts > saga.max_retries:
                self._stop(_STOP_STATUS[saga.then], immediate=False)

    def _saga_item(self, part: nodes.SagaItem, item: str | None, completed: list[nodes.Compensation]) -> None:
        match part:
            case nodes.Failing(fails, compensation, label):
                if self._attempt(label, fails, item):
                    raise _SagaFailedError(compensation)
                if compensation is not None:
                    completed.append(compensation)
            case nodes.Retry():
                self._retry(part, item, in_saga=True)
            case _:
                self._node(part, item)


def _position(block: tuple[nodes.Node, ...], target: str) -> int | None:
    for index, node in enumerate(block):
        if isinstance(node, nodes.Record) and node.label == target:
            return index
    return None
