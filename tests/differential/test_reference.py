"""The reference side on its own: the interpreter's semantics on the issue's examples, and the
comparison accepting exactly the runs it should (no host involved)."""

from __future__ import annotations

from liteflow.core import WorkflowInstance

from . import program as nodes
from .comparison import compare
from .expectation import ActualRun, Expectation
from .interpreter import interpret
from .labelling import finalise


def _expect(*body: nodes.Node) -> Expectation:
    return interpret(finalise(nodes.Program(body)))


def _run(expected: Expectation, trace: list[str], status: int = WorkflowInstance.COMPLETE) -> list[str]:
    data = {**expected.data, "trace": trace}
    return [problem.kind for problem in compare(expected, ActualRun(status, trace, data))]


def test_a_jump_back_leaves_the_if_it_jumps_out_of_so_the_step_after_it_runs_once() -> None:
    # inc (id top); if_(< 3 jumps) { jump to top }; final
    expected = _expect(nodes.Record(), nodes.JumpIf(limit=3), nodes.Record())
    assert expected.order == ["s1#0", "j2#0", "s1#1", "j2#1", "s1#2", "j2#2", "s1#3", "s3#0"]


def test_a_failed_saga_compensates_latest_first_before_the_flow_goes_on() -> None:
    saga = nodes.Saga(
        (
            nodes.Failing(0, nodes.undo(False)),
            nodes.Failing(1, nodes.undo(False, False)),
            nodes.Failing(0, nodes.undo(False)),
        ),
        nodes.SagaFailure.CONTINUE,
    )
    expected = _expect(nodes.Record(), saga, nodes.Record())
    # s1, t2 (undo u3), t4 fails (undo u5, u6), t7 never runs; then s9
    assert expected.order == ["s1#0", "t2#0", "t4#0", "u5#0", "u6#0", "u3#0", "s9#0"]


def test_a_saga_retried_after_compensating_runs_again_from_its_start() -> None:
    saga = nodes.Saga(
        (nodes.Failing(0, nodes.undo(False)), nodes.Failing(1, None)), nodes.SagaFailure.RETRY, 1
    )
    assert _expect(saga).order == ["t1#0", "t3#0", "u2#0", "t1#1", "t3#1"]


def test_a_retried_step_runs_max_retries_plus_one_times_then_its_fallback_applies() -> None:
    expected = _expect(nodes.Retry(fails=5, max_retries=2, then=nodes.Then.SUSPEND), nodes.Record())
    assert expected.order == ["r1#0", "r1#1", "r1#2"]
    assert [stop.status for stop in expected.stops] == [WorkflowInstance.SUSPENDED]


def test_parallel_branches_may_interleave_but_keep_their_own_order() -> None:
    expected = _expect(nodes.Parallel(((nodes.Record(), nodes.Record()), (nodes.Record(),))), nodes.Record())
    assert _run(expected, ["s3#0", "s1#0", "s2#0", "s4#0"]) == []
    assert _run(expected, ["s2#0", "s1#0", "s3#0", "s4#0"]) == ["early"]
    assert _run(expected, ["s1#0", "s2#0", "s4#0", "s3#0"]) == ["early"]


def test_a_sequence_out_of_order_a_repeated_step_and_a_missing_step_are_reported() -> None:
    expected = _expect(nodes.Record(), nodes.Record())
    assert _run(expected, ["s2#0", "s1#0"]) == ["early"]
    assert _run(expected, ["s1#0", "s1#0", "s2#0"]) == ["twice"]
    assert _run(expected, ["s1#0"]) == ["missing"]
    assert _run(expected, ["s1#0", "s2#0"], WorkflowInstance.TERMINATED) == ["status"]


def test_a_stop_in_one_branch_lets_the_branch_beside_it_end_anywhere_but_nothing_after_it_run() -> None:
    expected = _expect(nodes.Parallel(((nodes.End(),), (nodes.Record(), nodes.Record()))), nodes.Record())
    assert _run(expected, ["e1#0"]) == []
    assert _run(expected, ["s2#0", "e1#0"]) == []
    assert _run(expected, ["s2#0", "e1#0", "s3#0"]) == []
    assert _run(expected, ["s2#0", "s3#0"]) == ["stopped early"]
    assert _run(expected, ["e1#0", "s3#0"]) == ["early"]
    assert _run(expected, ["e1#0", "s2#0", "s3#0", "s4#0"]) == ["unexpected"]


def test_a_stop_made_by_a_failing_step_must_be_the_last_entry() -> None:
    failing = nodes.Retry(fails=1, max_retries=0, then=nodes.Then.TERMINATE)
    expected = _expect(nodes.Parallel(((failing,), (nodes.Record(),))))
    terminated = WorkflowInstance.TERMINATED
    assert _run(expected, ["s2#0", "r1#0"], terminated) == []
    assert _run(expected, ["r1#0", "s2#0"], terminated) == ["stopped late"]


def test_the_final_data_is_compared_once_every_entry_ran() -> None:
    expected = _expect(nodes.Record())
    trace = ["s1#0"]
    run = ActualRun(WorkflowInstance.COMPLETE, trace, {**expected.data, "trace": trace, "runs": {}})
    assert [problem.kind for problem in compare(expected, run)] == ["data"]


def test_a_run_given_up_is_reported_with_why() -> None:
    expected = _expect(nodes.Wait(timeout=True))
    run = ActualRun(WorkflowInstance.RUNNABLE, [], {}, unfinished="still runnable after 10 s")
    assert [problem.kind for problem in compare(expected, run)] == ["missing", "unfinished"]
