"""Differential test: random workflows on a real host against a reference interpreter.

Hypothesis generates small programs (`strategies`): sequences of recording steps, `if_`,
`while_` (bounded by a counter in the data), sequential and parallel `for_each`, `when` and
`decide` on outcomes, `parallel`/`join`, sagas with compensations (single steps, sequences,
sleeping ones) and failing steps, steps retried with `on_error(RETRY, 0, max_retries=n,
then=...)`, `end_workflow`, `attach` jumps guarded by a counter, zero-length delays and sleeps,
and waits for events with and without a timeout. Each program is compiled through the
public builder (`compiler`) and run on a started host over the memory provider and over
SQLite; the test publishes each awaited event once a step waits for it. The reference
interpreter (`interpreter`) runs the same program with the intended semantics.

How runs are compared (see `expectation` and `comparison`):

- Each step appends ``label + foreach item + "#" + run number`` to ``data["trace"]``, so every
  entry is unique and names one run of one step for one item: matching an actual entry to an
  expected one is never ambiguous, even across branches that run side by side.
- The interpreter returns a partial order rather than one trace: every entry comes with the
  entries that must precede it. In a sequence that is the entry before it, so the order of a
  sequence, a loop, a sequential for_each, a saga and its compensations is checked exactly.
  Branches that the engine runs side by side (parallel for_each items, parallel branches,
  every matching `when`) each start after what precedes the fork and are unordered among
  themselves; what follows the join comes after the last entry of every branch. So each
  branch's own subsequence is checked in order while any interleaving of branches passes.
- An actual run must list each entry at most once, only expected entries, each after all of
  its predecessors, and, unless the workflow stopped, every expected entry; its final status
  must be the expected one, and its final data (counters, received events) must equal the
  interpreter's.
- A stop inside branches (`end_workflow`, TERMINATE, SUSPEND) makes the branches beside it
  racy: they may have run any part of themselves when it happens. Those entries may then be
  missing (never out of order); the status must be that of a stop all of whose predecessors
  ran, a stop made by a failing step must be the trace's last entry, and the data is compared
  only when every expected entry ran.

CI runs the minimal programs of the divergences found so far (`_FOUND`), then a fixed number
of generated ones, derandomized (the same programs every run);
``LITEFLOW_DIFFERENTIAL_EXAMPLES=10000`` runs that many random ones instead, and
``python -m tests.differential.long_run`` goes on past divergences (see there).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, reject, settings

from liteflow.core import WorkflowHost
from tests.support import persistence_factories, running_host

from . import program as nodes
from .interpreter import ProgramTooLongError
from .labelling import finalise
from .strategies import programs
from .verdict import judge

_EXAMPLES_VARIABLE = "LITEFLOW_DIFFERENTIAL_EXAMPLES"
_LONG_RUN = os.environ.get(_EXAMPLES_VARIABLE)
#: Per provider; a few hundred in all keep CI well under a minute on 2 cores.
_CI_EXAMPLES = 250


def _saga(*body: nodes.SagaItem, on_error: nodes.SagaFailure = nodes.SagaFailure.CONTINUE) -> nodes.Saga:
    return nodes.Saga(body, on_error)


_WAIT = nodes.Wait(timeout=True)
_FAILS = nodes.Failing(1, None)

#: Minimal programs of the divergences found so far, run on every test run.
_FOUND: dict[str, nodes.Block] = {
    "a wait with a timeout wakes on its event": (_WAIT,),
    "waits with timeouts in parallel branches": (nodes.Parallel(((_WAIT,), (_WAIT, nodes.Record()))),),
    "a saga compensates before the flow goes on": (
        _saga(nodes.Failing(0, nodes.undo(False, True)), _FAILS),
        nodes.Record(),
    ),
    "a saga compensates before it terminates": (
        _saga(nodes.Failing(0, nodes.undo(False)), _FAILS, on_error=nodes.SagaFailure.TERMINATE),
    ),
    "a failed inner saga that continues leaves the outer saga alone": (
        _saga(_saga(_FAILS), on_error=nodes.SagaFailure.TERMINATE),
    ),
    "a failed step's compensation finishes before the next step": (
        nodes.Failing(1, nodes.undo(True)),
        nodes.Record(),
    ),
    "attach leaves the if_ it jumps out of": (nodes.Record(), nodes.JumpIf(limit=3), nodes.Record()),
    "attach leaves the while_ it jumps out of": (
        nodes.Record(),
        nodes.While(2, (nodes.JumpIf(limit=1),)),
        nodes.Record(),
    ),
    "attach leaves the for_each it jumps out of, and its item": (
        nodes.Record(),
        nodes.ForEach(1, parallel=False, body=(nodes.JumpIf(limit=1),)),
    ),
}


def _pinned(test: Any) -> Any:
    for body in _FOUND.values():
        test = example(program=finalise(nodes.Program(body)))(test)
    return test


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def host(request: pytest.FixtureRequest) -> Iterator[WorkflowHost]:
    """One started host per provider for all examples: each program registers its own id.

    Its log stays quiet: the programs' steps fail on purpose, and the traces tell the rest."""
    quiet = logging.getLogger("liteflow.differential")
    quiet.setLevel(logging.CRITICAL)
    with (
        persistence_factories()[request.param]() as persistence,
        running_host(persistence, logger=quiet) as started,
    ):
        yield started


@settings(
    max_examples=int(_LONG_RUN) if _LONG_RUN else _CI_EXAMPLES,
    derandomize=_LONG_RUN is None,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@_pinned
@given(program=programs())
def test_generated_workflow_runs_as_the_reference_interpreter_says(
    host: WorkflowHost, program: nodes.Program
) -> None:
    try:
        verdict = judge(host, program)
    except ProgramTooLongError:
        reject()
    if verdict.problems:
        pytest.fail(verdict.report(), pytrace=False)
