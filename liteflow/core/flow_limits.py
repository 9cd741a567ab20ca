"""What a workflow declares about how many of its instances may run, and how often.

Declared on the `Workflow` class beside `data_type` (``max_concurrent``,
``max_concurrent_per_key`` with a ``concurrency_key`` method, ``rate_limit``), or given to
``register_workflow(...)`` under the same names; checked once, at registration. The gate that
enforces them across a cluster is `liteflow.core.limit_gate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .errors import WorkflowDefinitionError

__all__ = ["LIMIT_NAMES", "FlowLimits", "declared_limits"]

#: The keywords `register_workflow` takes, named as the class attributes they override.
LIMIT_NAMES = ("max_concurrent", "max_concurrent_per_key", "concurrency_key", "rate_limit")

KeyFunction = Callable[[Any], Any]


@dataclass(frozen=True)
class FlowLimits:
    """A definition's limits; None means no such limit."""

    max_concurrent: int | None = None
    max_concurrent_per_key: int | None = None
    #: ``concurrency_key(data)``: the key whose limit an instance counts against (None: none).
    concurrency_key: KeyFunction | None = None
    #: At most this many step executions ...
    rate_count: int | None = None
    #: ... in any period this long.
    rate_period: timedelta | None = None

    @property
    def any(self) -> bool:
        return (
            self.max_concurrent is not None
            or self.max_concurrent_per_key is not None
            or self.rate_count is not None
        )


def _count(name: str, value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WorkflowDefinitionError(f"{where}: {name} must be an int >= 1 or None, got {value!r}")
    return value


def _rate(value: Any, where: str) -> tuple[int | None, timedelta | None]:
    if value is None:
        return None, None
    shape = isinstance(value, tuple) and len(value) == 2
    count, period = value if shape else (None, None)
    if isinstance(period, (int, float)) and not isinstance(period, bool):
        period = timedelta(seconds=period)
    if not shape or _count("rate_limit's count", count, where) is None or not isinstance(period, timedelta):
        raise WorkflowDefinitionError(
            f"{where}: rate_limit must be (count, timedelta), e.g. (5, timedelta(seconds=1)), got {value!r}"
        )
    if period <= timedelta(0):
        raise WorkflowDefinitionError(f"{where}: rate_limit's period must be positive, got {period}")
    return count, period


def declared_limits(workflow: object, overrides: dict[str, Any], where: str) -> FlowLimits:
    """The limits of `workflow`: its class attributes, each replaced by the override of that name."""
    unknown = sorted(set(overrides) - set(LIMIT_NAMES))
    if unknown:
        raise WorkflowDefinitionError(
            f"{where}: unknown limit(s) {', '.join(unknown)}; known: {', '.join(LIMIT_NAMES)}"
        )

    def chosen(name: str) -> Any:
        return overrides[name] if name in overrides else getattr(workflow, name, None)

    key_function = chosen("concurrency_key")
    if key_function is not None and not callable(key_function):
        raise WorkflowDefinitionError(f"{where}: concurrency_key must be a callable taking the data")
    per_key = _count("max_concurrent_per_key", chosen("max_concurrent_per_key"), where)
    if (per_key is None) != (key_function is None):
        raise WorkflowDefinitionError(
            f"{where}: max_concurrent_per_key and concurrency_key go together (one limits how "
            "many run per key, the other says which key an instance has)"
        )
    rate_count, rate_period = _rate(chosen("rate_limit"), where)
    return FlowLimits(
        max_concurrent=_count("max_concurrent", chosen("max_concurrent"), where),
        max_concurrent_per_key=per_key,
        concurrency_key=key_function,
        rate_count=rate_count,
        rate_period=rate_period,
    )
