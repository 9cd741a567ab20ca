"""Long workflows keep a small instance: finished pointers move to the instance's history, and
loops, sagas and jumps behave as in short ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from liteflow.core import StepExecutionContext, Workflow, WorkflowBuilder
from liteflow.core.history import ARCHIVE_ABOVE
from tests.support import (
    Scenario,
    memory_persistence,
    postgres_persistence,
    running_host,
    sqlite_persistence,
)

ITERATIONS = 300
#: Enough finished pointers to reach the archiving threshold twice over.
SAGA_TURNS = 2 * ARCHIVE_ABOVE + 10


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def long_scenario(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    factory = {
        "memory": memory_persistence,
        "sqlite": sqlite_persistence,
        "postgres": postgres_persistence,
    }[request.param]
    with factory() as persistence, running_host(persistence) as host:
        yield Scenario(host)


def count(name: str) -> object:
    def step(context: StepExecutionContext) -> None:
        data = context.workflow.data
        data[name] = data.get(name, 0) + 1

    step.__qualname__ = f"count_{name}"
    return step


class LongLoop(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(count("start")).while_(lambda data, context: data.get("turns", 0) < ITERATIONS).do(
            lambda loop: loop.start_with(count("turns")).then(count("after"))
        ).then(count("end"))


def test_a_long_loop_keeps_a_small_instance_and_its_history_holds_the_rest(long_scenario: Scenario) -> None:
    workflow_id = long_scenario.run(LongLoop(), {})
    instance = long_scenario.wait_for_completion(workflow_id, timeout=60)
    assert (instance.data["turns"], instance.data["after"], instance.data["end"]) == (
        ITERATIONS,
        ITERATIONS,
        1,
    )
    assert len(instance.execution_pointers) <= ARCHIVE_ABOVE + 5
    history = long_scenario.host.persistence_service.get_pointer_history(workflow_id, take=10_000)
    # start, the loop, two steps per turn, end: every pointer is in one place or the other
    assert len(history) + len(instance.execution_pointers) == 2 * ITERATIONS + 3
    assert len({pointer.id for pointer in history}) == len(history)
    assert all(pointer.end_time is not None for pointer in history)
    ended = [pointer.end_time for pointer in history if pointer.end_time is not None]
    assert ended == sorted(ended)  # oldest first


class LoopInsideSaga(Workflow):
    """The last turn fails: every earlier turn of the loop is a completed sibling of it."""

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(count("start")).saga(
            lambda saga: (
                saga.start_with(count("open"))
                .while_(lambda data, context: data.get("turns", 0) < ITERATIONS)
                .do(
                    lambda loop: (
                        loop.start_with(count("turns")).compensate_with(count("undone")).then(self.fail)
                    )
                )
            )
        ).then(count("end"))

    @staticmethod
    def fail(context: StepExecutionContext) -> None:
        if context.workflow.data["turns"] == SAGA_TURNS:
            raise RuntimeError("the last turn fails")


def test_a_saga_around_a_long_loop_still_undoes_every_turn(long_scenario: Scenario) -> None:
    workflow_id = long_scenario.run(LoopInsideSaga(), {})
    data = long_scenario.wait_for_completion(workflow_id, timeout=60).data
    assert (data["turns"], data["undone"], data["end"]) == (SAGA_TURNS, SAGA_TURNS, 1)
