"""When the host's extra workflow workers take work: only while the workers before them wait.

Steps that return at once gain nothing from several threads (they share one interpreter
lock), and threads taking turns at the queue, the store and its connection cost every
workflow thread switches: one worker runs them fastest. A step that blocks (a call to
another service, a `time.sleep`) is different: the workflows behind it should not wait for
it. So worker 0 always takes work, and worker k takes an item only while each of workers
0..k-1 is in an item and waiting: in the same item for `patience`, or, over the last
`patience`, running on the CPU less than a quarter of the time (steps of a few milliseconds
that wait on a server, one after another). It looks again after each item, and a judgement
of the CPU share stands for `patience`, so a worker that helps takes item after item. Until
it is needed it sleeps: until worker 0 starts an item when worker 0 is idle, else `patience`
at a time.

The host uses a gate only with a store whose calls run inside the process
(`PersistenceProvider.runs_in_process`): a store that waits on a server is itself a step
that blocks, and every worker takes work at once.
"""

from __future__ import annotations

import threading
import time

__all__ = ["WorkerGate", "PATIENCE", "WAITING_SHARE"]

#: How long the workers before an extra one must have been waiting for it to help.
PATIENCE = 0.01
#: Below this share of its time on the CPU, a worker in items counts as waiting.
WAITING_SHARE = 0.25
#: The longest an extra worker sleeps while the first one is idle (it is woken sooner).
_IDLE_WAIT = 1.0


def _thread_cpu_clock() -> int | None:
    """The calling thread's CPU clock, for other threads to read (None where there is none)."""
    clock_of = getattr(time, "pthread_getcpuclockid", None)
    if clock_of is None:
        return None
    try:
        clock: int = clock_of(threading.get_ident())
        time.clock_gettime(clock)
    except OSError:
        return None
    return clock


class WorkerGate:
    """Shared by the workflow workers of one host, numbered 0..`workers`-1."""

    def __init__(self, workers: int, patience: float = PATIENCE) -> None:
        self._patience = patience
        #: When each worker started its current item; None while it has none.
        self._since: list[float | None] = [None] * workers
        #: Each worker's CPU clock, once it registered.
        self._clocks: list[int | None] = [None] * workers
        #: What each worker last judged of the ones before it: (wall time, their CPU time then,
        #: whether they were mostly waiting over the window that ended then).
        self._seen: list[dict[int, tuple[float, float, bool]]] = [{} for _ in range(workers)]
        self._condition = threading.Condition()
        self._sleepers = 0
        self._open = True

    def register(self, worker: int) -> None:
        """Called by worker `worker`'s own thread before its first item."""
        self._clocks[worker] = _thread_cpu_clock()

    def started(self, worker: int) -> None:
        """Worker `worker` took an item."""
        self._since[worker] = time.monotonic()
        if worker == 0 and self._sleepers:
            with self._condition:
                self._condition.notify_all()

    def finished(self, worker: int) -> None:
        """Worker `worker` is done with its item."""
        self._since[worker] = None

    def _mostly_waiting(self, worker: int, other: int, now: float) -> bool:
        """Whether `other` ran on the CPU less than `WAITING_SHARE` of the time over the last
        window of at least `patience` that `worker` measured. Within `patience` of that
        judgement it stands, so a worker that helps takes item after item, not one per window."""
        clock = self._clocks[other]
        if clock is None:
            return False
        seen = self._seen[worker]
        cpu = time.clock_gettime(clock)
        before = seen.get(other)
        if before is None or now - before[0] >= 4 * self._patience:  # too old to compare
            seen[other] = (now, cpu, False)
            return False
        if now - before[0] < self._patience:
            return before[2]
        waiting = cpu - before[1] < WAITING_SHARE * (now - before[0])
        seen[other] = (now, cpu, waiting)
        return waiting

    def _needed(self, worker: int) -> bool:
        """Whether every worker before `worker` is in an item and waiting."""
        now = time.monotonic()
        stuck_since = now - self._patience
        for other in range(worker):
            since = self._since[other]
            if since is None:
                return False
            if since > stuck_since and not self._mostly_waiting(worker, other, now):
                return False
        return True

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
