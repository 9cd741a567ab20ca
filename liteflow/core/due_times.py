"""The in-memory store's index of wake-up times: the due instances without a look at the rest.

A heap of (time, id) entries, with the current time of each id in a dict: an entry whose time
is no longer its id's is stale, dropped when a look-up reaches it, and all of them when they
outnumber the live ones. A look-up pops what is due and pushes back the live entries, so it
costs what is due (and the stale entries it meets), not what is stored.

Setting a time only appends to a deque (atomic by itself, so the workers of a busy host
never wait for each other here); the heap takes the appended times in order at the next
look-up, or once enough of them piled up.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from datetime import datetime

__all__ = ["DueTimes"]

#: Stale entries tolerated beyond one per live id before the heap is rebuilt.
_SLACK = 1000
#: Times set since the last look-up beyond which the setter applies them itself.
_PENDING_LIMIT = 10_000


class DueTimes:
    """Wake-up times by id, safe to set and look up from any thread."""

    def __init__(self) -> None:
        self._times: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []
        self._pending: deque[tuple[str, datetime | None]] = deque()
        self._lock = threading.Lock()

    def set(self, item: str, when: datetime | None) -> None:
        """`item` wakes at `when`; None: it has no wake-up time."""
        self._pending.append((item, when))
        if len(self._pending) > _PENDING_LIMIT:
            with self._lock:
                self._apply_pending()

    def _apply_pending(self) -> None:
        """Move the times set so far into the heap, oldest first; the caller holds the lock."""
        pending = self._pending
        while pending:
            item, when = pending.popleft()
            self._apply(item, when)

    def _apply(self, item: str, when: datetime | None) -> None:
        if when is None:
            self._times.pop(item, None)
        elif self._times.get(item) != when:
            self._times[item] = when
            heapq.heappush(self._heap, (when, item))
            if len(self._heap) > 2 * len(self._times) + _SLACK:
                self._heap = [(time, key) for key, time in self._times.items()]
                heapq.heapify(self._heap)

    def due(self, limit: datetime) -> list[str]:
        """Ids whose time is at or before `limit`, earliest first."""
        with self._lock:
            self._apply_pending()
            return self._due(limit)

    def _due(self, limit: datetime) -> list[str]:
        heap, times = self._heap, self._times
        found: list[tuple[datetime, str]] = []
        while heap and heap[0][0] <= limit:
            entry = heapq.heappop(heap)
            if times.get(entry[1]) == entry[0] and (not found or found[-1] != entry):
                found.append(entry)
        for entry in found:
            heapq.heappush(heap, entry)
        return [item for _, item in found]
