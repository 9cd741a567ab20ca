"""Hypothesis strategies for random programs: small by default, shrinking towards one Record.

Every kind of node comes first in its list in its simplest form, so Hypothesis shrinks a
failing program to the fewest, simplest nodes that still fail.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import TypeVar

from hypothesis import strategies as st

from . import program as nodes
from .labelling import finalise

__all__ = ["programs"]

T = TypeVar("T")

#: A saga step failing this many times fails every attempt of the saga.
_ALWAYS = 9


@st.composite
def programs(draw: st.DrawFn, max_depth: int = 3, max_block: int = 4) -> nodes.Program:
    """Programs whose blocks nest at most `max_depth` deep and hold at most `max_block` nodes.

    (A composite, so that Hypothesis names it ``programs()`` rather than spelling out the
    whole nested strategy.)"""
    return finalise(nodes.Program(draw(_block(max_depth, max_block))))


@cache
def _retries() -> st.SearchStrategy[nodes.Retry]:
    return st.builds(
        nodes.Retry,
        fails=st.integers(0, 2),
        max_retries=st.integers(0, 2),
        then=st.sampled_from(
            [nodes.Then.COMPENSATE, nodes.Then.COMPENSATE, nodes.Then.TERMINATE, nodes.Then.SUSPEND]
        ),
    )


@cache
def _compensations() -> st.SearchStrategy[nodes.Compensation]:
    step = st.builds(nodes.CompensationStep, sleeps=st.booleans())
    single = st.builds(nodes.Compensation, steps=st.tuples(step), sequence=st.just(False))
    sequence = st.builds(
        nodes.Compensation, steps=st.lists(step, min_size=1, max_size=3).map(tuple), sequence=st.just(True)
    )
    return single | sequence


@cache
def _leaves() -> st.SearchStrategy[nodes.Node]:
    """Weighted by repetition: common nodes often, nodes that end the workflow rarely."""
    weighted: list[tuple[int, st.SearchStrategy[nodes.Node]]] = [
        (12, st.builds(nodes.Record)),
        (2, st.builds(nodes.Wait, timeout=st.booleans())),
        (2, st.builds(nodes.JumpIf, limit=st.integers(1, 2), target_choice=st.integers(0, 7))),
        (1, st.builds(nodes.Sleep)),
        (1, st.builds(nodes.Delay, seconds_as_number=st.booleans())),
        (2, _retries()),
        (1, st.builds(nodes.Failing, fails=st.integers(0, 1), compensation=_compensations())),
        (1, st.builds(nodes.End)),
    ]
    return _weighted(weighted)


def _weighted(choices: list[tuple[int, st.SearchStrategy[T]]]) -> st.SearchStrategy[T]:
    """One of the strategies, each as often as its weight; shrinks towards the first."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(table).flatmap(lambda strategy: strategy)


@cache
def _block(depth: int, size: int) -> st.SearchStrategy[nodes.Block]:
    """A non-empty block; a `decide` may only end it (its branches are the block's rest)."""
    nodes = _nodes(depth, size)
    decide = st.none() if depth == 0 else _weighted([(4, st.none()), (1, _decides(depth - 1, size))])
    return st.tuples(st.lists(nodes, min_size=1, max_size=size), decide).map(
        lambda parts: tuple(parts[0]) + (() if parts[1] is None else (parts[1],))
    )


@cache
def _nodes(depth: int, size: int) -> st.SearchStrategy[nodes.Node]:
    if depth == 0:
        return _leaves()
    inner = st.deferred(lambda: _block(depth - 1, size))
    values = st.integers(1, 3)
    containers: list[st.SearchStrategy[nodes.Node]] = [
        st.builds(nodes.If, condition=st.booleans(), body=inner),
        st.builds(nodes.While, limit=st.integers(0, 2), body=inner),
        st.builds(nodes.ForEach, count=st.integers(0, 3), parallel=st.booleans(), body=inner),
        st.builds(
            nodes.When,
            outcome=values,
            cases=st.lists(st.tuples(values, inner), min_size=1, max_size=3).map(tuple),
        ),
        st.builds(nodes.Parallel, branches=st.lists(inner, min_size=1, max_size=3).map(tuple)),
        _sagas(depth - 1),
    ]
    return st.one_of(_leaves(), *containers)


@cache
def _decides(depth: int, size: int) -> st.SearchStrategy[nodes.Decide]:
    """Branch values are distinct: exactly one branch, or none, matches."""
    branches = st.tuples(st.permutations([1, 2, 3]), st.lists(_block(depth, size), min_size=1, max_size=3))
    return st.builds(
        nodes.Decide,
        value=st.integers(1, 3),
        branches=branches.map(lambda parts: tuple(zip(*parts, strict=False))),
    )


@cache
def _sagas(depth: int) -> st.SearchStrategy[nodes.Saga]:
    step = st.builds(
        nodes.Failing,
        fails=st.sampled_from([0, 0, 1, 2, _ALWAYS]),
        compensation=st.none() | _compensations(),
    )
    parts: list[st.SearchStrategy[nodes.SagaItem]] = [
        step,
        step,
        _retries(),
        st.builds(nodes.Wait, timeout=st.booleans()),
        st.builds(nodes.Sleep),
    ]
    if depth > 0:
        parts.append(st.deferred(lambda: _sagas(depth - 1)))
    return st.builds(
        nodes.Saga,
        body=st.lists(st.one_of(*parts), min_size=1, max_size=4).map(_nothing_fails_after_a_nested_saga),
        on_error=st.sampled_from(
            [
                nodes.SagaFailure.CONTINUE,
                nodes.SagaFailure.CONTINUE,
                nodes.SagaFailure.TERMINATE,
                nodes.SagaFailure.RETRY,
            ]
        ),
        max_retries=st.integers(0, 2),
        then=st.sampled_from([nodes.Then.TERMINATE, nodes.Then.SUSPEND]),
    )


def _nothing_fails_after_a_nested_saga(body: list[nodes.SagaItem]) -> tuple[nodes.SagaItem, ...]:
    """Whether an outer saga's failure undoes a completed inner saga is not specified: avoid it."""
    safe: list[nodes.SagaItem] = []
    nested = False
    for part in body:
        if nested and isinstance(part, nodes.Failing):
            safe.append(replace(part, fails=0))
        elif nested and isinstance(part, nodes.Retry):
            safe.append(replace(part, fails=min(part.fails, part.max_retries)))
        else:
            safe.append(part)
        nested = nested or isinstance(part, nodes.Saga)
    return tuple(safe)
