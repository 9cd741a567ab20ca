"""An operator sees the steps a long workflow moved to its history, beside its own."""

from __future__ import annotations

from liteflow.core import StepExecutionContext, Workflow, WorkflowBuilder
from liteflow.core.history import ARCHIVE_ABOVE
from liteflow.operate import Operator
from tests.support import Scenario, running_host

TURNS = 2 * ARCHIVE_ABOVE


def turn(context: StepExecutionContext) -> None:
    context.workflow.data["turns"] = context.workflow.data.get("turns", 0) + 1


class Loop(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(turn).while_(lambda data, context: data["turns"] < TURNS).do(
            lambda loop: loop.start_with(turn)
        )


def _count(steps: list[dict[str, object]]) -> int:
    return sum(1 + _count(step["children"]) for step in steps)  # type: ignore[arg-type]


def test_the_view_of_an_instance_shows_the_steps_of_its_history() -> None:
    with running_host() as host:
        workflow_id = Scenario(host).run(Loop(), {})
        instance = Scenario(host).wait_for_completion(workflow_id)
        view = Operator(host).view(instance)
    archived = len(host.persistence_service.get_pointer_history(workflow_id, take=10_000))
    assert archived > 0 and view["archived_steps"] == archived and view["more_archived_steps"] is False
    assert _count(view["steps"]) == archived + len(instance.execution_pointers) == TURNS + 1
