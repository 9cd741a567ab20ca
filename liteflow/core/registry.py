"""Registered workflow definitions, by (id, version)."""

from __future__ import annotations

import threading
from typing import Any

from .builder import WorkflowBuilder
from .definition import WorkflowDefinition
from .errors import DuplicateWorkflowError, WorkflowDefinitionError, WorkflowNotRegisteredError
from .flow_limits import declared_limits
from .serialization._known import KNOWN_TYPES
from .text import is_storable_text
from .workflow import Workflow

__all__ = ["WorkflowRegistry"]


class WorkflowRegistry:
    """Builds each registered `Workflow` once and finds definitions for the engine."""

    def __init__(self) -> None:
        self._definitions: dict[tuple[str, int], WorkflowDefinition] = {}
        self._latest: dict[str, WorkflowDefinition] = {}
        self._lock = threading.Lock()

    def register_workflow(self, workflow: object, **limits: Any) -> WorkflowDefinition:
        """Build `workflow`; `limits` override its class's flow limits (see `flow_limits`)."""
        if not isinstance(workflow, Workflow):
            hint = " (pass an instance: MyWorkflow())" if isinstance(workflow, type) else ""
            raise WorkflowDefinitionError(
                f"register_workflow() expects a Workflow instance, got {workflow!r}{hint}"
            )
        workflow_id = workflow.id()
        version = workflow.version()
        if not isinstance(workflow_id, str) or not workflow_id or not is_storable_text(workflow_id):
            raise WorkflowDefinitionError(
                f"{type(workflow).__qualname__}.id() must return a non-empty string, got {workflow_id!r}"
            )
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise WorkflowDefinitionError(
                f"workflow '{workflow_id}': version() must return a positive int, got {version!r}"
            )
        builder = WorkflowBuilder()
        try:
            workflow.build(builder)
            definition = builder.build(workflow_id, version)
        except WorkflowDefinitionError as exc:
            raise WorkflowDefinitionError(f"workflow '{workflow_id}' version {version}: {exc}") from None
        except Exception as exc:
            raise WorkflowDefinitionError(
                f"workflow '{workflow_id}' version {version}: build() raised {type(exc).__name__}: {exc}"
            ) from exc
        definition.data_type = workflow.data_type
        definition.limits = declared_limits(workflow, limits, f"workflow '{workflow_id}' version {version}")
        definition.description = (type(workflow).__doc__ or "").strip() or None
        self.add_definition(definition)
        # Stored data of this workflow may then name classes of these packages.
        KNOWN_TYPES.learn_packages_of(
            [type(workflow), definition.data_type, *(step.body for step in definition.steps)]
        )
        return definition

    def add_definition(self, definition: WorkflowDefinition) -> None:
        """Register a definition already built (by another registry: an operator's host shares
        the application's definitions this way)."""
        with self._lock:
            key = (definition.id, definition.version)
            if key in self._definitions:
                raise DuplicateWorkflowError(
                    f"workflow '{definition.id}' version {definition.version} is already registered"
                )
            self._definitions[key] = definition
            latest = self._latest.get(definition.id)
            if latest is None or latest.version < definition.version:
                self._latest[definition.id] = definition

    def definitions(self) -> list[WorkflowDefinition]:
        """Every registered definition, by id then version."""
        with self._lock:
            return [self._definitions[key] for key in sorted(self._definitions)]

    def get_definition(self, workflow_id: str, version: int | None = None) -> WorkflowDefinition:
        """The definition for (id, version), or the highest version when `version` is None."""
        definition = (
            self._latest.get(workflow_id)
            if version is None
            else self._definitions.get((workflow_id, version))
        )
        if definition is None:
            raise WorkflowNotRegisteredError(workflow_id, version)
        return definition

    def is_registered(self, workflow_id: str, version: int | None = None) -> bool:
        try:
            self.get_definition(workflow_id, version)
        except WorkflowNotRegisteredError:
            return False
        return True
