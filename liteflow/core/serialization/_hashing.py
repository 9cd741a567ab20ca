"""Sets and non-text dict keys: which values they may hold, and how alike their hashes may be.

Rebuilding a set or a dict hashes and compares its items. So that loading never runs a
class's own ``__hash__`` or ``__eq__``, they may hold only standard value types (and enum
members whose hashing is the enum module's own). And because the hashes of ints, floats or
tuples are predictable, a document could make every item hash alike and the rebuild take
quadratic time: more than `MAX_HASH_COLLISIONS` items sharing a hash are refused,
when storing and when loading alike.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from ._classes import EnumPlan, plan_for
from ._introspect import type_name
from ._paths import PathError

__all__ = ["MAX_HASH_COLLISIONS", "check_hashed_items"]

MAX_HASH_COLLISIONS = 64

# By identity, so no metaclass __eq__ or __hash__ runs while checking.
_VALUE_TYPES = frozenset(
    id(cls)
    for cls in (
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        Decimal,
        uuid.UUID,
        date,
        datetime,
        time,
        timedelta,
    )
)


def _foreign_type(value: Any) -> str | None:
    """The name of a type inside `value` whose own code hashing would run, or None."""
    cls = type(value)
    if id(cls) in _VALUE_TYPES:
        return None
    if cls is tuple or cls is frozenset:
        for item in value:
            found = _foreign_type(item)
            if found is not None:
                return found
        return None
    if issubclass(cls, enum.Enum):
        plan = plan_for(cls)
        if isinstance(plan, EnumPlan) and plan.library_hash:
            return None
    return type_name(value)


def check_hashed_items(items: Collection[Any], what: str) -> None:
    """Raise if `items` (a set's items or a dict's keys) hold a foreign type or flood one hash.

    `what` names one item in messages: "set item" or "dict key".
    """
    for item in items:
        foreign = _foreign_type(item)
        if foreign is not None:
            raise PathError(
                f"{what} of type '{foreign}'",
                ": sets and dict keys may hold only standard value types (str, int, float, complex, "
                "bytes, Decimal, UUID, dates and times, enum members, and tuples and frozensets of "
                "them), because loading never runs a class's own __hash__ or __eq__",
            )
    try:
        collisions = len(items) - len(set(map(hash, items)))
    except TypeError as exc:  # e.g. a signalling NaN Decimal
        raise PathError(f"{what} that cannot be hashed", f" ({exc})", exc) from None
    if collisions > MAX_HASH_COLLISIONS:
        raise PathError(
            f"{what}s of which {collisions} share a hash with another",
            f": more than {MAX_HASH_COLLISIONS} would make loading them slow (hash flooding), so they "
            "are refused",
        )
