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

from . import program as nodes

__all__ = ["finalise"]


def finalise(program: nodes.Program) -> nodes.Program:
    labelled = _Labeller().block(program.body)
    targets: set[str] = set()
    resolved = _resolve(labelled, [], targets)
    return nodes.Program(_anchor(resolved, targets))


class _Labeller:
    def __init__(self) -> None:
        self._numbers = count(1)

    def _next(self, prefix: str) -> str:
        return f"{prefix}{next(self._numbers)}"

    def block(self, block: nodes.Block) -> nodes.Block:
        return tuple(self.node(node) for node in block)

    def _cases(self, cases: tuple[tuple[int, nodes.Block], ...]) -> tuple[tuple[int, nodes.Block], ...]:
        return tuple((value, self.block(block)) for value, block in cases)

    def _failing(self, step: nodes.Failing, prefix: str) -> nodes.Failing:
        """A failing step is ``t...`` in a saga, ``x...`` elsewhere; its undo steps ``u...``."""
        label = self._next(prefix)
        if step.compensation is None:
            return replace(step, label=label)
        undo = tuple(replace(part, label=self._next("u")) for part in step.compensation.steps)
        return replace(step, label=label, compensation=replace(step.compensation, steps=undo))

    def _saga_item(self, part: nodes.SagaItem) -> nodes.SagaItem:
        match part:
            case nodes.Failing():
                return self._failing(part, "t")
            case nodes.Retry():
                return replace(part, label=self._next("r"))
            case nodes.Wait():
                return replace(part, label=self._next("a"))
            case nodes.Sleep():
                return replace(part, label=self._next("z"))
            case nodes.Saga():
                return replace(part, body=tuple(self._saga_item(inner) for inner in part.body))

    def node(self, node: nodes.Node) -> nodes.Node:
        match node:
            case nodes.Record():
                return replace(node, label=self._next("s"))
            case nodes.Failing():
                return self._failing(node, "x")
            case nodes.End():
                return replace(node, label=self._next("e"))
            case nodes.JumpIf():
                return replace(node, label=self._next("j"))
            case nodes.If() | nodes.ForEach():
                return replace(node, body=self.block(node.body))
            case nodes.While():
                label = self._next("w")
                return replace(node, label=label, body=self.block(node.body))
            case nodes.When():
                label = self._next("o")
                return replace(node, label=label, cases=self._cases(node.cases))
            case nodes.Decide():
                return replace(node, branches=self._cases(node.branches))
            case nodes.Parallel():
                return replace(node, branches=tuple(self.block(branch) for branch in node.branches))
            case nodes.Retry() | nodes.Wait() | nodes.Sleep() | nodes.Saga():
                labelled = self._saga_item(node)
                assert not isinstance(labelled, nodes.Failing)
                return labelled
        return node


def _resolve(block: nodes.Block, outer: list[str], targets: set[str]) -> nodes.Block:
    """Pick each jump's target among the Records visible from it."""
    visible = outer + [node.label for node in block if isinstance(node, nodes.Record)]
    resolved: list[nodes.Node] = []
    for node in block:
        match node:
            case nodes.JumpIf(_, choice):
                if not visible:
                    resolved.append(nodes.Delay(seconds_as_number=True))
                    continue
                target = visible[choice % len(visible)]
                targets.add(target)
                resolved.append(replace(node, target=target))
            case nodes.If(_, body) | nodes.While(_, body):
                resolved.append(replace(node, body=_resolve(body, visible, targets)))
            case nodes.ForEach(_, parallel, body):
                resolved.append(replace(node, body=_resolve(body, [] if parallel else visible, targets)))
            case nodes.When(_, cases):
                resolved.append(replace(node, cases=_resolve_cases(cases, [], targets)))
            case nodes.Decide(_, branches):
                resolved.append(replace(node, branches=_resolve_cases(branches, visible, targets)))
            case nodes.Parallel(branches):
                resolved.append(
                    replace(node, branches=tuple(_resolve(branch, [], targets) for branch in branches))
                )
            case _:
                resolved.append(node)
    return tuple(resolved)


def _resolve_cases(
    cases: tuple[tuple[int, nodes.Block], ...], outer: list[str], targets: set[str]
) -> tuple[tuple[int, nodes.Block], ...]:
    return tuple((value, _resolve(block, outer, targets)) for value, block in cases)


def _anchor(block: nodes.Block, targets: set[str]) -> nodes.Block:
    """Give every jump target its `.id(...)`."""
    anchored: list[nodes.Node] = []
    for node in block:
        match node:
            case nodes.Record(label) if label in targets:
                anchored.append(replace(node, anchor=True))
            case nodes.If(_, body) | nodes.While(_, body) | nodes.ForEach(_, _, body):
                anchored.append(replace(node, body=_anchor(body, targets)))
            case nodes.When(_, cases):
                anchored.append(replace(node, cases=tuple((v, _anchor(b, targets)) for v, b in cases)))
            case nodes.Decide(_, branches):
                anchored.append(replace(node, branches=tuple((v, _anchor(b, targets)) for v, b in branches)))
            case nodes.Parallel(branches):
                anchored.append(replace(node, branches=tuple(_anchor(b, targets) for b in branches)))
            case _:
                anchored.append(node)
    return tuple(anchored)
