"""The base class users subclass to describe a workflow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .builder import WorkflowBuilder

__all__ = ["Workflow"]


class Workflow:
    """A workflow definition: `build` composes its steps; `id` and `version` name it.

    `id()` defaults to the class name and `version()` to 1. Set `data_type` to a class to
    have `start_workflow` create the data object when none is given.

    Flow limits hold across every host sharing the store and lock: `max_concurrent`
    instances executing a step at once; `max_concurrent_per_key` of those whose
    ``concurrency_key(self, data)`` method returns the same key (None: no key limit); and
    `rate_limit` = (count, timedelta) step executions per period.
    """

    data_type: type[Any] | None = None
    max_concurrent: int | None = None
    max_concurrent_per_key: int | None = None
    #: Define it as a method ``concurrency_key(self, data) -> str | None``.
    concurrency_key: Callable[[Any], Any] | None = None
    rate_limit: tuple[int, timedelta] | None = None

    def id(self) -> str:
        """The definition's id, by which workflows are started; the class name unless overridden."""
        return type(self).__name__

    def version(self) -> int:
        """The definition's version (a positive int); instances keep the version they started on."""
        return 1

    def build(self, builder: WorkflowBuilder) -> None:
        """Compose the workflow's steps on `builder`; called once, by `register_workflow`."""
        raise NotImplementedError(f"{type(self).__name__} must implement build(builder)")
