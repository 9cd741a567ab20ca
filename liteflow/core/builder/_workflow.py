"""`WorkflowBuilder`: the steps of one workflow, their jumps resolved into a definition."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..definition import StepOutcome, WorkflowDefinition, WorkflowStep
from ..errors import WorkflowDefinitionError
from ..step import StepBody
from ._checks import check_behavior, check_body, interval
from ._step import StepBuilder, WhenStepBuilder

__all__ = ["WorkflowBuilder"]


class WorkflowBuilder:
    """Collects the steps of one workflow; `do` blocks get a builder sharing the same steps."""

    def __init__(
        self,
        steps: list[WorkflowStep] | None = None,
        attachments: list[tuple[WorkflowStep, str]] | None = None,
    ) -> None:
        self._steps: list[WorkflowStep] = steps if steps is not None else []
        self._attachments: list[tuple[WorkflowStep, str]] = attachments if attachments is not None else []
        self._first: WorkflowStep | None = None
        self.default_error_behavior: int = WorkflowStep.RETRY
        self.default_error_retry_interval: timedelta | None = None

    @property
    def steps(self) -> list[WorkflowStep]:
        """Every step added so far, in the order of their ids."""
        return self._steps

    @property
    def first_step(self) -> WorkflowStep | None:
        """The step added by this builder's `start_with`, if any."""
        return self._first

    def add_step(self, step: WorkflowStep) -> None:
        """Give `step` the next id and append it; the builder's own calls use this."""
        step.id = len(self._steps)
        self._steps.append(step)

    def start_with(self, body: type[StepBody] | Callable[..., Any]) -> StepBuilder:
        """Add the first step of this workflow (or of this `do` block)."""
        if self._first is not None:
            raise WorkflowDefinitionError(
                "start_with() called twice on the same builder; chain further steps with then()"
            )
        check_body(body, "start_with()")
        step = WorkflowStep(body)
        self.add_step(step)
        self._first = step
        return StepBuilder(self, step)

    def then(self, body: Any) -> StepBuilder:
        """Refused: a workflow's first step is added with `start_with`."""
        raise WorkflowDefinitionError(
            "then() called before start_with(): the first step is added with start_with()"
        )

    def when(self, value: Any, label: str | None = None) -> WhenStepBuilder:
        """Refused: `when` matches the outcome of a step, so it follows one."""
        raise WorkflowDefinitionError(
            "when() needs a preceding step whose outcome it matches; call it on a step"
        )

    def create_branch(self) -> WorkflowBuilder:
        """A builder for a path that `decide(...).branch(value, path)` can lead to."""
        return self.child()

    def attach_later(self, step: WorkflowStep, target_id: str) -> None:
        """Record an edge to the step named `target_id`, resolved once every step exists."""
        self._attachments.append((step, target_id))

    def use_default_error_behavior(
        self, behavior: int, retry_interval: timedelta | float | None = None
    ) -> WorkflowBuilder:
        """Error behaviour for steps that do not set their own with `on_error`."""
        self.default_error_behavior = check_behavior(behavior, "use_default_error_behavior()")
        self.default_error_retry_interval = interval(retry_interval, "retry_interval")
        return self

    def child(self) -> WorkflowBuilder:
        """A builder for a `do` block or branch: same steps, its own first step."""
        return WorkflowBuilder(self._steps, self._attachments)

    def build(self, workflow_id: str, version: int) -> WorkflowDefinition:
        """The definition made of the steps added, with jumps resolved and every block checked;
        raises `WorkflowDefinitionError` naming what is wrong."""
        if self._first is None:
            raise WorkflowDefinitionError("build() added no steps; call builder.start_with(...)")
        for step in self._steps:
            if step.is_container and not step.children:
                raise WorkflowDefinitionError(f"step {step.id} ({step.display_name}) has no do() block")
        self._resolve_attachments()
        return WorkflowDefinition(
            workflow_id,
            version,
            list(self._steps),
            default_error_behavior=self.default_error_behavior,
            default_error_retry_interval=self.default_error_retry_interval,
            initial_step_id=self._first.id,
        )

    def _resolve_attachments(self) -> None:
        named: dict[str, WorkflowStep] = {}
        for step in self._steps:
            if step.external_id is None:
                continue
            if step.external_id in named:
                raise WorkflowDefinitionError(
                    f"two steps have the id '{step.external_id}' "
                    f"(steps {named[step.external_id].id} and {step.id})"
                )
            named[step.external_id] = step
        for step, target_id in self._attachments:
            target = named.get(target_id)
            if target is None:
                known = ", ".join(sorted(named)) or "none"
                raise WorkflowDefinitionError(
                    f"attach('{target_id}') on step {step.id} ({step.display_name}): no step has "
                    f"that id (known ids: {known})"
                )
            step.outcomes.append(StepOutcome(target.id, jump=True))
        self._attachments.clear()
