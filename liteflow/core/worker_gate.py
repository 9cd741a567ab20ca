"""When the host's extra workflow workers take work: only while the workers before them are
stuck in a step.

Steps that return at once gain nothing from several threads (they share one interpreter
lock), and threads taking turns at the queue, the store and its connection cost every
workflow thread switches: one worker runs them fastest. A step that blocks (a call to
another service, a `time.sleep`) is different: the workflows behind it should not wait for
it. So worker 0 always takes work, and worker k takes an item only once workers 0..k-1 have
each been in their current item for `patience`; it looks again after each item. Until then
it sleeps: until worker 0 starts an item when worker 0 is idle, else `patience` at a time.

The host uses a gate only with a store whose calls run inside the process
(`PersistenceProvider.runs_in_process`): a store that waits on a server is itself a step
that blocks, and every worker takes work at once.
"""

from __future__ import annotations

import threading
import time

__all__ = ["WorkerGate", "PATIENCE"]

#: How long the workers before an extra one must all have been in one item for it to help.
PATIENCE = 0.01
#: The longest an extra worker sleeps while the first one is idle (it is woken sooner).
_IDLE_WAIT = 1.0


class WorkerGate:
    """Shared by the workflow workers of one host, numbered 0..`workers`-1."""

    def __init__(self, workers: int, patience: float = PATIENCE) -> None:
        self._patience = patience
        #: When each worker started its current item; None while it has none.
        self._since: list[float | None] = [None] * workers
        self._condition = threading.Condition()
        self._sleepers = 0
        self._open = True

    def started(self, worker: int) -> None:
        """Worker `worker` took an item."""
        self._since[worker] = time.monotonic()
        if worker == 0 and self._sleepers:
            with self._condition:
                self._condition.notify_all()

    def finished(self, worker: int) -> None:
        """Worker `worker` is done with its item."""
        self._since[worker] = None

    def _needed(self, worker: int) -> bool:
        """Whether every worker before `worker` has been in its item for `patience`."""
        stuck_since = time.monotonic() - self._patience
        return all(since is not None and since <= stuck_since for since in self._since[:worker])

    def wait_until_needed(self, worker: int) -> bool:
        """Return once worker `worker` should take an item (at once for worker 0); False
        when the host stops."""
        while True:
            if not self._open:
                return False
            if worker == 0 or self._needed(worker):
                return True
            with self._condition:
                # Counted before looking, so a worker 0 that starts meanwhile sees the count
                # (and only while worker 0 is idle: its busy starts wake no one).
                self._sleepers += 1
                if self._since[0] is not None or not self._open:
                    self._sleepers -= 1
                    self._condition.wait(self._patience if self._open else 0)
                    continue
                try:
                    self._condition.wait(_IDLE_WAIT)  # the first worker has nothing: nor would this one
                finally:
                    self._sleepers -= 1

    def close(self) -> None:
        """Wake every waiting worker for good: the host stops."""
        with self._condition:
            self._open = False
            self._condition.notify_all()
