"""A long differential run that goes on past divergences and shrinks each kind of them.

    python -m tests.differential.long_run --examples 10000 --provider sqlite

Runs that many random programs on one host, in Hypothesis runs of a few hundred. A divergence
of a kind not seen before (its `signature`) fails the Hypothesis test, which shrinks it to a
minimal program; that program is printed, its kind counts as known from then on, and the search
goes on. Divergences of known kinds are only counted. Ends with the counts.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, reject, settings

from liteflow.core import WorkflowHost
from tests.support import persistence_factories, running_host

from .comparison import signature
from .expectation import status_name
from .interpreter import ProgramTooLongError
from .program import Program
from .strategies import programs
from .verdict import judge

__all__ = ["main"]


class _NewDivergenceError(AssertionError):
    def __init__(self, kind: str, report: str) -> None:
        super().__init__(report)
        self.kind = kind


@dataclass
class _Tally:
    searched: int = 0
    shrinking_runs: int = 0
    entries: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    divergences: Counter[str] = field(default_factory=Counter)
    minimal: dict[str, str] = field(default_factory=dict)


#: Programs per Hypothesis run and host: both keep what they ran until they end.
_BATCH = 500


def _search(host: WorkflowHost, examples: int, tally: _Tally) -> None:
    """Run up to `examples` programs; stop early at one of a new kind, once it is shrunk."""
    shrinking = False

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(programs())
    def check(program: Program) -> None:
        nonlocal shrinking
        try:
            verdict = judge(host, program)
        except ProgramTooLongError:
            reject()
        kind = signature(verdict.problems)
        if shrinking:
            tally.shrinking_runs += 1
        else:
            tally.searched += 1
            tally.entries += len(verdict.actual.trace)
            tally.statuses[status_name(verdict.actual.status)] += 1
            if verdict.problems:
                tally.divergences[kind] += 1
        if verdict.problems and kind not in tally.minimal:
            shrinking = True
            raise _NewDivergenceError(kind, verdict.report())

    try:
        check()
    except _NewDivergenceError as found:
        tally.minimal[found.kind] = str(found)
        print(f"\n== new divergence [{found.kind}], shrunk:\n{found}\n", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--provider", choices=["memory", "sqlite"], default="memory")
    args = parser.parse_args(argv)
    logging.getLogger("liteflow").setLevel(logging.CRITICAL)
    tally = _Tally()
    started = time.monotonic()
    while tally.searched < args.examples:
        with persistence_factories()[args.provider]() as persistence, running_host(persistence) as host:
            _search(host, min(_BATCH, args.examples - tally.searched), tally)
        print(f"   {tally.searched} programs, {sum(tally.divergences.values())} diverged", flush=True)
    print(f"== {args.provider}: {tally.searched} programs in {time.monotonic() - started:.0f} s", flush=True)
    print(f"   plus {tally.shrinking_runs} runs while shrinking; {tally.entries} trace entries in all")
    print(f"   final statuses: {dict(tally.statuses)}")
    print(f"   diverged: {sum(tally.divergences.values())}")
    for kind, count in tally.divergences.most_common():
        print(f"     {count:6d}  {kind}")


if __name__ == "__main__":
    main()
