"""The filters of `get_workflow_instances` and `find_workflows`, as SQL stores write them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["sql_instance_filters"]


def sql_instance_filters(
    placeholder: str,
    stored_time: Callable[[datetime | None, str], Any],
    status: int | None,
    definition_id: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    reference: str | None = None,
) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause of the given filters ("" when none) and its parameters.

    `placeholder` is the driver's parameter marker; `stored_time(value, name)` turns a time
    into the store's form (and refuses what is not a time).
    """
    conditions: list[str] = []
    parameters: list[Any] = []
    for column, operator, value in (
        ("status", "=", status),
        ("workflow_definition_id", "=", definition_id),
        ("reference", "=", reference),
        ("create_time", ">=", stored_time(created_from, "created_from")),
        ("create_time", "<=", stored_time(created_to, "created_to")),
    ):
        if value is not None:
            conditions.append(f"{column} {operator} {placeholder}")
            parameters.append(value)
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), parameters
