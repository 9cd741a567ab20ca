"""A random workflow "program": a tree of steps and blocks that both the compiler and the
reference interpreter read.

Every node that leaves a mark in the trace has a label (``s1``, ``w2``...), unique in the
program. Nodes are frozen dataclasses so Hypothesis can shrink them and print them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Block",
    "Compensation",
    "CompensationStep",
    "Decide",
    "Delay",
    "End",
    "Failing",
    "ForEach",
    "If",
    "JumpIf",
    "Node",
    "Parallel",
    "Program",
    "Record",
    "Retry",
    "Saga",
    "SagaFailure",
    "SagaItem",
    "Sleep",
    "Then",
    "Wait",
    "When",
    "While",
    "render",
    "undo",
]


class Then(Enum):
    """What a step's (or a saga's) error behaviour falls back to after its last retry."""

    TERMINATE = "terminate"
    SUSPEND = "suspend"
    COMPENSATE = "compensate"


class SagaFailure(Enum):
    """A saga's error behaviour: continue after it (the default), terminate, or retry it."""

    CONTINUE = "continue"
    TERMINATE = "terminate"
    RETRY = "retry"


@dataclass(frozen=True)
class Record:
    """A step that appends its label to the trace; `anchor` gives it an id to jump to."""

    label: str = ""
    anchor: bool = False


@dataclass(frozen=True)
class Retry:
    """Fails on its first `fails` runs (ever, for its item); `on_error(RETRY, 0, max_retries, then)`."""

    fails: int
    max_retries: int
    then: Then
    label: str = ""


def undo(*sleeps: bool) -> Compensation:
    """A compensation of one step per flag (True: the step sleeps first); a sequence if several."""
    return Compensation(tuple(CompensationStep(sleeps=sleep) for sleep in sleeps), sequence=len(sleeps) > 1)


@dataclass(frozen=True)
class Failing:
    """Fails on its first `fails` runs (ever, for its item; 0: never) and has no `on_error`.

    In a saga, a failure fails the saga. Elsewhere it always has a compensation: that runs,
    then the flow goes on after the step.
    """

    fails: int
    compensation: Compensation | None
    label: str = ""


@dataclass(frozen=True)
class Wait:
    """`wait_for` an event the test publishes, with or without a (never reached) timeout."""

    timeout: bool
    label: str = ""


@dataclass(frozen=True)
class Sleep:
    """A step that first returns `ExecutionResult.sleep(0)`, then records."""

    label: str = ""


@dataclass(frozen=True)
class Delay:
    """The builder's `delay` of zero; leaves no trace."""

    seconds_as_number: bool


@dataclass(frozen=True)
class End:
    """Records, then `end_workflow()`."""

    label: str = ""


@dataclass(frozen=True)
class If:
    condition: bool
    body: Block


@dataclass(frozen=True)
class While:
    """Records on entry, then runs `body` `limit` times; each iteration starts with a record."""

    limit: int
    body: Block
    label: str = ""


@dataclass(frozen=True)
class ForEach:
    """Over `count` items, each named after its parent's item (``/0``, ``/0/1``...)."""

    count: int
    parallel: bool
    body: Block


@dataclass(frozen=True)
class When:
    """A step completing with `outcome`, then `when(value).do(block)` for each case."""

    outcome: int
    cases: tuple[tuple[int, Block], ...]
    label: str = ""


@dataclass(frozen=True)
class Decide:
    """`decide(value).branch(v, block)...`: the last node of its block (branches continue it)."""

    value: int
    branches: tuple[tuple[int, Block], ...]


@dataclass(frozen=True)
class Parallel:
    branches: tuple[Block, ...]


@dataclass(frozen=True)
class JumpIf:
    """``if_(jumps < limit).do(jump step .attach(target))``; `target` is a Record's label.

    `target_choice` picks the target among the candidates when the program is finalised.
    """

    limit: int
    target_choice: int = 0
    target: str = ""
    label: str = ""


@dataclass(frozen=True)
class CompensationStep:
    label: str = ""
    sleeps: bool = False


@dataclass(frozen=True)
class Compensation:
    """`compensate_with(step)` when not `sequence`, else `compensate_with_sequence(...)`."""

    steps: tuple[CompensationStep, ...]
    sequence: bool


@dataclass(frozen=True)
class Saga:
    body: tuple[SagaItem, ...]
    on_error: SagaFailure
    max_retries: int = 0
    then: Then = Then.TERMINATE


Node = (
    Record
    | Retry
    | Failing
    | Wait
    | Sleep
    | Delay
    | End
    | If
    | While
    | ForEach
    | When
    | Decide
    | Parallel
    | JumpIf
    | Saga
)
SagaItem = Failing | Retry | Wait | Sleep | Saga
Block = tuple[Node, ...]


@dataclass(frozen=True)
class Program:
    body: Block


def render(program: Program) -> str:
    """The program as indented pseudo-code, for failure reports."""
    lines: list[str] = []
    _render_block(program.body, 1, lines)
    return "\n".join(lines)


def _render_block(block: tuple[Node | SagaItem, ...], depth: int, lines: list[str]) -> None:
    for node in block:
        _render_node(node, depth, lines)


def _render_compensation(compensation: Compensation | None) -> str:
    if compensation is None:
        return ""
    steps = ", ".join(step.label + (" (sleeps first)" if step.sleeps else "") for step in compensation.steps)
    return f" undo {'sequence ' if compensation.sequence else ''}[{steps}]"


def _render_node(node: Node | SagaItem, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    match node:
        case Record(label, anchor):
            lines.append(f"{pad}{label}" + (f"  .id({label!r})" if anchor else ""))
        case Retry(fails, max_retries, then, label):
            lines.append(
                f"{pad}{label}: fails its first {fails} runs; on_error(RETRY, 0, max_retries={max_retries}, "
                f"then={then.name})"
            )
        case Failing(fails, compensation, label):
            failing = f": fails its first {fails} runs;" if fails else ""
            lines.append(f"{pad}{label}{failing}{_render_compensation(compensation)}")
        case Wait(timeout, label):
            lines.append(f"{pad}wait_for(ev-{label}{', timeout=1 h' if timeout else ''}) then {label}")
        case Sleep(label):
            lines.append(f"{pad}{label}: sleep(0), then record")
        case Delay(as_number):
            lines.append(f"{pad}delay({'0' if as_number else 'timedelta(0)'})")
        case End(label):
            lines.append(f"{pad}{label}, end_workflow()")
        case If(condition, body):
            lines.append(f"{pad}if_({condition}):")
            _render_block(body, depth + 1, lines)
        case While(limit, body, label):
            lines.append(f"{pad}{label}, while_ {label} < {limit} ({label} each iteration):")
            _render_block(body, depth + 1, lines)
        case ForEach(count, parallel, body):
            lines.append(f"{pad}for_each({count} items, run_parallel={parallel}):")
            _render_block(body, depth + 1, lines)
        case When(outcome, cases, label):
            lines.append(f"{pad}{label} -> outcome({outcome})")
            for value, case in cases:
                lines.append(f"{pad}.when({value}):")
                _render_block(case, depth + 1, lines)
        case Decide(value, branches):
            lines.append(f"{pad}decide({value})")
            for value, branch in branches:
                lines.append(f"{pad}.branch({value}):")
                _render_block(branch, depth + 1, lines)
        case Parallel(branches):
            lines.append(f"{pad}parallel:")
            for branch in branches:
                lines.append(f"{pad}.do:")
                _render_block(branch, depth + 1, lines)
            lines.append(f"{pad}.join()")
        case JumpIf(limit, _, target, label):
            lines.append(f"{pad}if_({label} < {limit}).do({label}.attach({target!r}))")
        case Saga(body, on_error, max_retries, then):
            policy = {
                SagaFailure.CONTINUE: "",
                SagaFailure.TERMINATE: ".on_error(TERMINATE)",
                SagaFailure.RETRY: f".on_error(RETRY, 0, max_retries={max_retries}, then={then.name})",
            }[on_error]
            lines.append(f"{pad}saga{policy}:")
            _render_block(body, depth + 1, lines)
