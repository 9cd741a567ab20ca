"""Turns a generated tree into a program: labels every node, resolves every jump's target.

Labels are numbered in reading order (``s1``, ``w2``, ``s3``...), with a letter for the kind of
node, so a shrunk program reads top to bottom. A jump may only go to a Record in its own block
or in a block around it reached through `if_`, `while_`, sequential `for_each` or `decide`
branches: never out of branches that run side by side, nor out of a saga, and never into its
own `if_` (whose condition is what bounds the jumps). A jump with nowhere to go becomes a
zero delay.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import count

from .program import (
    Block,
    Compensation,
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
    SagaItem,
    SagaStep,
    Sleep,
    SoloFailure,
    Wait,
    When,
    While,
)

__all__ = ["finalise"]


def finalise(program: Program) -> Program:
    labelled = _Labeller().block(program.body)
    targets: set[str] = set()
    resolved = _resolve(labelled, [], targets)
    return Program(_anchor(resolved, targets))


class _Labeller:
    def __init__(self) -> None:
        self._numbers = count(1)

    def _next(self, prefix: str) -> str:
        return f"{prefix}{next(self._numbers)}"

    def block(self, block: Block) -> Block:
        return tuple(self.node(node) for node in block)

    def _cases(self, cases: tuple[tuple[int, Block], ...]) -> tuple[tuple[int, Block], ...]:
        return tuple((value, self.block(block)) for value, block in cases)

    def _compensation(self, compensation: Compensation) -> Compensation:
        steps = tuple(replace(step, label=self._next("u")) for step in compensation.steps)
        return replace(compensation, steps=steps)

    def _saga_item(self, part: SagaItem) -> SagaItem:
        match part:
            case SagaStep():
                label = self._next("t")
                undo = None if part.compensation is None else self._compensation(part.compensation)
                return replace(part, label=label, compensation=undo)
            case Retry():
                return replace(part, label=self._next("r"))
            case Wait():
                return replace(part, label=self._next("a"))
            case Sleep():
                return replace(part, label=self._next("z"))
            case Saga():
                return replace(part, body=tuple(self._saga_item(inner) for inner in part.body))

    def node(self, node: Node) -> Node:
        match node:
            case Record():
                return replace(node, label=self._next("s"))
            case SoloFailure():
                label = self._next("x")
                return replace(node, label=label, compensation=self._compensation(node.compensation))
            case End():
                return replace(node, label=self._next("e"))
            case JumpIf():
                return replace(node, label=self._next("j"))
            case If() | ForEach():
                return replace(node, body=self.block(node.body))
            case While():
                label = self._next("w")
                return replace(node, label=label, body=self.block(node.body))
            case When():
                label = self._next("o")
                return replace(node, label=label, cases=self._cases(node.cases))
            case Decide():
                return replace(node, branches=self._cases(node.branches))
            case Parallel():
                return replace(node, branches=tuple(self.block(branch) for branch in node.branches))
            case Retry() | Wait() | Sleep() | Saga():
                labelled = self._saga_item(node)
                assert not isinstance(labelled, SagaStep)
                return labelled
        return node


def _resolve(block: Block, outer: list[str], targets: set[str]) -> Block:
    """Pick each jump's target among the Records visible from it."""
    visible = outer + [node.label for node in block if isinstance(node, Record)]
    resolved: list[Node] = []
    for node in block:
        match node:
            case JumpIf(_, choice):
                if not visible:
                    resolved.append(Delay(seconds_as_number=True))
                    continue
                target = visible[choice % len(visible)]
                targets.add(target)
                resolved.append(replace(node, target=target))
            case If(_, body) | While(_, body):
                resolved.append(replace(node, body=_resolve(body, visible, targets)))
            case ForEach(_, parallel, body):
                resolved.append(replace(node, body=_resolve(body, [] if parallel else visible, targets)))
            case When(_, cases):
                resolved.append(replace(node, cases=_resolve_cases(cases, [], targets)))
            case Decide(_, branches):
                resolved.append(replace(node, branches=_resolve_cases(branches, visible, targets)))
            case Parallel(branches):
                resolved.append(
                    replace(node, branches=tuple(_resolve(branch, [], targets) for branch in branches))
                )
            case _:
                resolved.append(node)
    return tuple(resolved)


def _resolve_cases(
    cases: tuple[tuple[int, Block], ...], outer: list[str], targets: set[str]
) -> tuple[tuple[int, Block], ...]:
    return tuple((value, _resolve(block, outer, targets)) for value, block in cases)


def _anchor(block: Block, targets: set[str]) -> Block:
    """Give every jump target its `.id(...)`."""
    anchored: list[Node] = []
    for node in block:
        match node:
            case Record(label) if label in targets:
                anchored.append(replace(node, anchor=True))
            case If(_, body) | While(_, body) | ForEach(_, _, body):
                anchored.append(replace(node, body=_anchor(body, targets)))
            case When(_, cases):
                anchored.append(replace(node, cases=tuple((v, _anchor(b, targets)) for v, b in cases)))
            case Decide(_, branches):
                anchored.append(replace(node, branches=tuple((v, _anchor(b, targets)) for v, b in branches)))
            case Parallel(branches):
                anchored.append(replace(node, branches=tuple(_anchor(b, targets) for b in branches)))
            case _:
                anchored.append(node)
    return tuple(anchored)
