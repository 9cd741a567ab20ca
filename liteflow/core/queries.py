"""Finding instances for people: filters, newest first, and summaries without data or steps.

An operator's list (the ``liteflow`` command, the dashboard) pages through many instances;
loading each one whole would read its data and pointers, and one that cannot be loaded would
break the page. `PersistenceProvider.find_workflows` answers with `WorkflowSummary` rows
instead; the built-in stores do it with one indexed query.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from .clock import to_utc
from .errors import InvalidArgumentError
from .records import WorkflowInstance

__all__ = ["SUMMARY_FIELDS", "WorkflowQuery", "WorkflowSummary", "check_page", "summary_of"]


def check_page(skip: int, take: int) -> None:
    """Refuse a page of stored records that starts or ends before the first one."""
    if skip < 0 or take < 0:
        raise InvalidArgumentError(f"skip and take must not be negative, got skip={skip}, take={take}")


@dataclass(frozen=True)
class WorkflowQuery:
    """Which instances, in which order, which page. Every filter given must match."""

    status: int | None = None
    definition_id: str | None = None
    #: The exact reference given to `start_workflow`.
    reference: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    newest_first: bool = True
    skip: int = 0
    take: int = 50

    def __post_init__(self) -> None:
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None:
                try:
                    object.__setattr__(self, name, to_utc(value))
                except TypeError as exc:
                    raise InvalidArgumentError(f"WorkflowQuery.{name}: {exc}") from None
        for name in ("skip", "take"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgumentError(f"WorkflowQuery.{name} must be an int >= 0, got {value!r}")

    def matches(self, summary: WorkflowSummary) -> bool:
        """Whether `summary` passes every filter (for stores that filter in Python)."""
        created = summary.create_time
        return (
            (self.status is None or summary.status == self.status)
            and (self.definition_id is None or summary.workflow_definition_id == self.definition_id)
            and (self.reference is None or summary.reference == self.reference)
            and (self.created_from is None or (created is not None and created >= self.created_from))
            and (self.created_to is None or (created is not None and created <= self.created_to))
        )


@dataclass(frozen=True)
class WorkflowSummary:
    """An instance's stored fields that are not data, steps or actions."""

    id: str
    workflow_definition_id: str
    version: int
    status: int
    reference: str | None
    description: str | None
    parent_workflow_id: str | None
    create_time: datetime | None
    complete_time: datetime | None
    next_execution: datetime | None


#: The instance fields a summary holds, in its order: what a store selects for one.
SUMMARY_FIELDS = tuple(field.name for field in fields(WorkflowSummary))


def summary_of(instance: WorkflowInstance) -> WorkflowSummary:
    """An instance's summary fields, for a provider whose `find_workflows` loads instances."""
    return WorkflowSummary(*(getattr(instance, name) for name in SUMMARY_FIELDS))
