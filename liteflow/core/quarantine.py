"""Putting aside what cannot be loaded or run, so it neither spins nor stalls other work.

A stored instance or event that fails the same way every time (a bad document, an unknown
stored type, a tampered field) would otherwise be tried by every worker on every poll, and
logged each time. After `QUARANTINE_AFTER` failures in a row an instance is suspended with
an `ExecutionError` naming the cause, and an event is marked processed with an error
recorded under its id; each is logged once. A store that fails for a moment (a
`ProviderError`) is not a reason: that is retried as usual.
"""

from __future__ import annotations

import threading

from .records import ExecutionError
from .worker_services import Services

__all__ = ["QUARANTINE_AFTER", "Quarantine"]

#: Failures in a row after which an instance or an event is put aside.
QUARANTINE_AFTER = 3
#: Ids this node keeps skipping when its store cannot suspend an instance it cannot load.
_MAX_GIVEN_UP = 10_000


class Quarantine:
    """Counts failures per id; says when to try again and when to give up."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._failures: dict[str, int] = {}
        self._given_up: set[str] = set()
        self._lock = threading.Lock()

    def is_given_up(self, record_id: str) -> bool:
        return bool(self._given_up) and record_id in self._given_up

    def succeeded(self, record_id: str) -> None:
        if self._failures:
            with self._lock:
                self._failures.pop(record_id, None)

    def _give_up(self, kind: str, record_id: str, exc: BaseException) -> ExecutionError | None:
        """Count a failure; the error to record once it is time to give up, else None."""
        cause = f"{type(exc).__name__}: {exc}"
        with self._lock:
            count = self._failures.get(record_id, 0) + 1
            if count >= QUARANTINE_AFTER:
                self._failures.pop(record_id, None)
            else:
                self._failures[record_id] = count
        if count < QUARANTINE_AFTER:
            if count == 1:
                self._services.logger.warning(
                    "%s %s could not be loaded or run (%s); trying again", kind, record_id, cause
                )
            return None
        self._services.logger.error("%s %s is put aside after %d failures: %s", kind, record_id, count, cause)
        error = ExecutionError()
        error.error_time = self._services.clock.now()
        error.workflow_id = record_id
        error.message = f"the {kind} cannot be loaded or run: {cause}"
        return error

    def workflow_failed(self, workflow_id: str, exc: BaseException) -> bool:
        """Record a failure to load or run an instance (its lock held); True once it is
        suspended (put aside), False when it is worth another try."""
        error = self._give_up("workflow", workflow_id, exc)
        if error is None:
            return False
        if not self._services.persistence.quarantine_workflow(workflow_id, error):
            self._services.logger.error(
                "workflow %s: its store cannot suspend it, so this node leaves it alone until restarted",
                workflow_id,
            )
            with self._lock:
                if len(self._given_up) < _MAX_GIVEN_UP:
                    self._given_up.add(workflow_id)
        return True

    def event_failed(self, event_id: str, exc: BaseException) -> bool:
        """Record a failure to load or deliver an event; True once it is marked failed."""
        error = self._give_up("event", event_id, exc)
        if error is None:
            return False
        self._services.persistence.mark_event_failed(event_id, error)
        return True
