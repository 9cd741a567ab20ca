"""One differential check: the interpreter's expectation of a program against its real run."""

from __future__ import annotations

from dataclasses import dataclass

from liteflow.core import WorkflowHost

from .comparison import Problem, compare, describe
from .expectation import ActualRun, Expectation
from .interpreter import interpret
from .program import Program, render
from .runner import run_on_host

__all__ = ["Verdict", "judge"]


@dataclass
class Verdict:
    program: Program
    expected: Expectation
    actual: ActualRun
    problems: list[Problem]

    def report(self) -> str:
        return describe(render(self.program), self.expected, self.actual, self.problems)


def judge(host: WorkflowHost, program: Program) -> Verdict:
    """Run `program` on `host` and compare it with the interpreter's expectation.

    Raises `ProgramTooLongError` first, without running anything, for a program too long to
    test. A run past twice the expected entries (plus some slack) is stopped as a runaway.
    """
    expected = interpret(program)
    actual = run_on_host(host, program, max_entries=2 * len(expected.order) + 20)
    return Verdict(program, expected, actual, compare(expected, actual))
