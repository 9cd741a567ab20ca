"""When the host's extra workflow workers take work: only while the workers before them wait.

Steps that return at once gain nothing from several threads (they share one interpreter
lock), and threads taking turns at the queue, the store and its connection cost every
workflow thread switches: one worker runs them fastest. A step that blocks (a call to
another service, a `time.sleep`) is different: the workflows behind it should not wait for
it. So worker 0 always takes work, and worker k takes an item only while each of workers
0..k-1 is in an item and waiting: in the same item for `patience`, or, over the last
`patience`, inside step bodies at least half of the time or running on the CPU less than a
quarter of it (steps of a few milliseconds that call another service, one after another;
the time inside steps tells those apart from a worker that only waits its turn for the
interpreter lock, which the CPU share alone cannot). It looks again after each item, and a judgement
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

__all__ = ["PATIENCE", "STEP_SHARE", "WAITING_SHARE", "WorkerGate", "WorkerSlot", "gated_worker"]

#: How long the workers before an extra one must have been waiting for it to help.
PATIENCE = 0.01
#: Below this share of its time on the CPU, a worker in items counts as waiting.
WAITING_SHARE = 0.25
#: From this share of its time inside step bodies, a worker in items counts as waiting.
STEP_SHARE = 0.5
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


_this_thread = threading.local()


class WorkerSlot:
    """One gated worker's time inside step bodies: kept by its own thread, read by the others."""

    __slots__ = ("_in_steps", "_step_since")

    def __init__(self) -> None:
        self._in_steps = 0.0
        self._step_since: float | None = None

    def step_started(self) -> None:
        self._step_since = time.monotonic()

    def step_ended(self) -> None:
        since = self._step_since
        if since is not None:
            self._in_steps += time.monotonic() - since
            self._step_since = None

    def time_in_steps(self, now: float) -> float:
        """Seconds inside step bodies so far, the current one included."""
        since = self._step_since
        return self._in_steps + (now - since if since is not None else 0.0)


def gated_worker() -> WorkerSlot | None:
    """The calling thread's slot, when it is a worker behind a gate."""
    slot: WorkerSlot | None = getattr(_this_thread, "slot", None)
    return slot


class WorkerGate:
    """Shared by the workflow workers of one host, numbered 0..`workers`-1."""

    def __init__(self, workers: int, patience: float = PATIENCE) -> None:
        self._patience = patience
        #: When each worker started its current item; None while it has none.
        self._since: list[float | None] = [None] * workers
        #: Each worker's CPU clock, once it registered.
        self._clocks: list[int | None] = [None] * workers
        self._slots = [WorkerSlot() for _ in range(workers)]
        #: What each worker last judged of the ones before it: (wall time, their CPU time and
        #: time inside steps then, whether they were waiting over the window that ended then).
        self._seen: list[dict[int, tuple[float, float, float, bool]]] = [{} for _ in range(workers)]
        self._condition = threading.Condition()
        self._sleepers = 0
        self._open = True

    def register(self, worker: int) -> None:
        """Called by worker `worker`'s own thread before its first item."""
        self._clocks[worker] = _thread_cpu_clock()
        _this_thread.slot = self._slots[worker]

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
        """Whether `other`, over the last window of at least `patience` that `worker`
        measured, was inside steps `STEP_SHARE` of the time or on the CPU less than
        `WAITING_SHARE` of it. Within `patience` of that judgement it stands, so a worker
        that helps takes item after item, not one per window."""
        clock = self._clocks[other]
        in_steps = self._slots[other].time_in_steps(now)
        cpu = time.clock_gettime(clock) if clock is not None else 0.0
        seen = self._seen[worker]
        before = seen.get(other)
        if before is None or now - before[0] >= 4 * self._patience:  # too old to compare
            seen[other] = (now, cpu, in_steps, False)
            return False
        window = now - before[0]
        if window < self._patience:
            return before[3]
        waiting = in_steps - before[2] >= STEP_SHARE * window or (
            clock is not None and cpu - before[1] < WAITING_SHARE * window
        )
        seen[other] = (now, cpu, in_steps, waiting)
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
