"""The base class users subclass to describe a workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .builder import WorkflowBuilder

__all__ = ["Workflow"]


class Workflow:
    """A workflow definition: `build` composes its steps; `id` and `version` name it.

    `id()` defaults to the class name and `version()` to 1. Set `data_type` to a class to
    have `start_workflow` create the data object when none is given.
    """

    data_type: type[Any] | None = None

    def id(self) -> str:
        return type(self).__name__

    def version(self) -> int:
        return 1

    def build(self, builder: WorkflowBuilder) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement build(builder)")
