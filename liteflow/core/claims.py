"""Claims a poll takes on the due work it queues, kept in this process.

A poll claims what it queues, so that later polls (this node's, other nodes') leave it alone
while a worker handles it; a claim lapses by itself, so work claimed by a node that died is
polled again once its claim ends. The built-in stores keep claims in the store, where every
node sees them; this is the default for a store that cannot: hosts sharing one provider
object in one process skip each other's claims, other processes do not see them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from weakref import WeakKeyDictionary

__all__ = ["ProcessClaims", "process_claims"]


class ProcessClaims:
    """Ids claimed until a time, by kind of work (instances, events)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[tuple[str, str], datetime] = {}

    def claim(self, kind: str, ids: Iterable[str], as_at: datetime, until: datetime) -> list[str]:
        """The ids of `ids` not claimed past `as_at`, in order, each now claimed until `until`."""
        with self._lock:
            # Lapsed claims go first: the map stays as small as the work recently queued.
            self._until = {key: end for key, end in self._until.items() if end > as_at}
            taken = [item for item in ids if (kind, item) not in self._until]
            for item in taken:
                self._until[(kind, item)] = until
        return taken


_claims: WeakKeyDictionary[object, ProcessClaims] = WeakKeyDictionary()
_claims_lock = threading.Lock()


def process_claims(owner: object) -> ProcessClaims:
    """The claims of one provider object, made on first use (a provider need not make them)."""
    with _claims_lock:
        claims = _claims.get(owner)
        if claims is None:
            claims = _claims[owner] = ProcessClaims()
        return claims
