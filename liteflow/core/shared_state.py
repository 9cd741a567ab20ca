"""Small versioned records the hosts of a cluster coordinate through: schedules, the waiting
lists and rate windows of flow limits.

Every write is a compare-and-set on the record's version, so two hosts that read the same
record and both change it cannot both succeed: the loser reads it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SharedState"]


@dataclass
class SharedState:
    """One record: `value` (stored through the store's serializer) under (`kind`, `key`).

    `version` is 0 for a record not stored yet; `put_shared_state` succeeds only when it is
    the stored version, and then increments it.
    """

    kind: str
    key: str
    value: Any = None
    version: int = 0
