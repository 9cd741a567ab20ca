"""Exceptions raised by LiteFlow; every one derives from `LiteFlowError`."""

from __future__ import annotations

__all__ = [
    "LiteFlowError",
    "WorkflowNotRegisteredError",
    "WorkflowDefinitionError",
    "DuplicateWorkflowError",
    "WorkflowNotFoundError",
    "InvalidArgumentError",
    "InstanceIdConflictError",
    "SerializationError",
    "HostStateError",
    "WorkflowStateError",
    "ProviderError",
]


class LiteFlowError(Exception):
    """Base of every error LiteFlow raises on purpose."""


class WorkflowNotRegisteredError(LiteFlowError, LookupError):
    """No workflow definition is registered under the requested id (and version)."""

    def __init__(self, workflow_id: str, version: int | None = None) -> None:
        self.workflow_id = workflow_id
        self.version = version
        which = f"'{workflow_id}'" if version is None else f"'{workflow_id}' version {version}"
        super().__init__(f"workflow {which} is not registered with this host")


class WorkflowDefinitionError(LiteFlowError, ValueError):
    """A workflow's build() produced a malformed definition."""


class DuplicateWorkflowError(WorkflowDefinitionError):
    """The same (id, version) was registered twice."""


class WorkflowNotFoundError(LiteFlowError, LookupError):
    """No stored workflow instance has the requested id."""


class InvalidArgumentError(LiteFlowError, ValueError):
    """An argument given to a public method is not acceptable."""


class InstanceIdConflictError(InvalidArgumentError):
    """`start_workflow` was given an instance id that an instance of another workflow has."""


class SerializationError(LiteFlowError, TypeError):
    """A value cannot be stored by, or loaded from, a durable provider."""


class HostStateError(LiteFlowError, RuntimeError):
    """The host cannot do what was asked in its current state."""


class WorkflowStateError(LiteFlowError, RuntimeError):
    """An action makes no sense in the instance's state (retrying a running instance, skipping a
    step that did not fail, ...); nothing was changed."""


class ProviderError(LiteFlowError):
    """A provider's backing service failed or cannot be reached."""
