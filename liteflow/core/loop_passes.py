"""Passes that await: `async def` steps run on the host's event loop, not on a worker thread.

How a pass with a step to await keeps its guarantees:

- A worker takes the instance's lock, loads it and runs the pass as usual, up to the first
  due step to await (an ``async def`` step or inline function, or any step once an
  ``async def`` middleware is installed). It then hands the rest of the pass over
  (`hand_over`) and goes back to its queue: it does not wait while the step awaits.
- The lock stays held. The rest of the pass runs as a task on the host's event loop (one
  loop, in a thread of its own): awaited steps are awaited there, synchronous steps of the
  same pass run on a step thread (a synchronous step never blocks the loop), each in order.
- The pass still ends in one atomic write (`PassRunner.conclude`, the same code a worker
  runs), made from an io thread: a store call never blocks the loop either. After it, the
  lock is released and what follows is queued (`PassesDone.finish`), also from that
  thread. A next pass of the instance goes back to the workers through the queue, so
  synchronous steps always run on worker threads, and the loop only awaits.
- A workflow with flow limits keeps its slots (`liteflow.core.limit_gate`) while its pass
  is handed over: they are let go once the pass was written (or wrote nothing), before the
  lock is released, as a worker does for the passes it runs itself. A rate-limited pass
  runs one step, awaited or not, so each awaited step books its execution as a synchronous
  one does.
- At most `max_concurrent_async_steps` passes are handed over at once (each awaits one step
  at a time): a worker with one more to hand over waits for a slot. That bounds how many
  steps await at once, and how many locked instances wait on the loop.
- A step's middleware, lifecycle events, errors, retries, cancel conditions and
  compensation are those of every step: the executor runs both kinds through the same
  code around the step's run, which only differs in being awaited.
- Every step runs in an empty `contextvars` context of its own (a task of its own for an
  awaited step): it sees nothing its caller, the loop or another step set, and what it sets
  ends with it.
- `stop` waits for handed-over passes like the workers wait for theirs; past the shutdown
  timeout it cancels them. A cancelled pass writes nothing: it releases the lock and its
  steps run again later (at least once, as every step).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

from .event_loop import HostEventLoop
from .passes import HandedOver, PassesDone, PassRunner
from .worker_services import Services

__all__ = ["LoopPasses", "PassEnd"]

#: Called on an io thread once a handed-over pass ended: with what it left to do (None if it
#: wrote nothing), and the error that ended it (None when it finished or was cancelled).
PassEnd = Callable[[PassesDone | None, BaseException | None], None]

#: How often a worker waiting for a slot looks whether the host is stopping.
_SLOT_POLL = 0.1
#: How long stopping waits, past the shutdown timeout, for cancelled passes to let go.
_CANCEL_GRACE = 2.0


class LoopPasses:
    """Finishes handed-over passes on the event loop, at most `cap` at once."""

    def __init__(self, services: Services, runner: PassRunner, loop: HostEventLoop, cap: int) -> None:
        self._services = services
        self._runner = runner
        self._loop = loop
        self._slots = threading.BoundedSemaphore(cap)
        self._running: set[Future[PassesDone | None]] = set()
        self._idle = threading.Condition()
        self._closed = False

    def hand_over(self, handed: HandedOver, end: PassEnd) -> None:
        """Finish `handed` on the loop, then call `end`; waits (on this worker) for a slot.

        Once `stop` gave up waiting, a pass is not started: `end` releases its instance, which
        stays due (its steps run again after a restart). However the pass ends, its flow-limit
        slots are let go before `end` is called.
        """
        end = partial(self._let_go, handed, end)
        while not self._slots.acquire(timeout=_SLOT_POLL):
            if self._closed:
                end(None, None)
                return
        with self._idle:
            future = None if self._closed else self._loop.submit(self._runner.finish_pass(handed, self._loop))
            if future is not None:
                self._running.add(future)
        if future is None:
            self._slots.release()
            end(None, None)
        else:
            future.add_done_callback(partial(self._ended, handed.workflow.id, end))

    def wait_idle(self, deadline: float) -> bool:
        """Wait until every handed-over pass ended, or `deadline` (monotonic) passes; True if so."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._running, max(0.0, deadline - time.monotonic()))

    def stop(self, deadline: float) -> int:
        """Let handed-over passes finish until `deadline`, then cancel the rest and wait a
        moment for them to release their instances; return how many have not."""
        finished = self.wait_idle(deadline)
        with self._idle:
            self._closed = True
            running = list(self._running)
        if finished:
            return 0
        self._services.logger.warning(
            "stop(): cancelling %d awaited step(s) still running; they will run again", len(running)
        )
        for future in running:
            future.cancel()
        self.wait_idle(time.monotonic() + _CANCEL_GRACE)
        with self._idle:
            return len(self._running)

    def _let_go(
        self, handed: HandedOver, end: PassEnd, done: PassesDone | None, error: BaseException | None
    ) -> None:
        try:
            self._runner.let_go(handed)
        finally:
            end(done, error)

    def _ended(self, workflow_id: str, end: PassEnd, future: Future[PassesDone | None]) -> None:
        """On the loop's thread: hand the end of the pass to an io thread (it releases a lock)."""
        done: PassesDone | None = None
        error: BaseException | None = None
        if not future.cancelled():  # a cancelled pass wrote nothing; its steps run again
            error = future.exception()
            if error is None:
                done = future.result()
            else:
                self._services.logger.error(
                    "workflow %s: its awaited pass failed", workflow_id, exc_info=error
                )
        try:
            self._loop.io_later(self._end, future, end, done, error)
        except RuntimeError:  # the io threads are gone (a stop that gave up waiting)
            self._end(future, end, done, error)

    def _end(
        self,
        future: Future[PassesDone | None],
        end: PassEnd,
        done: PassesDone | None,
        error: BaseException | None,
    ) -> None:
        try:
            end(done, error)
        except Exception:
            self._services.logger.exception("could not release the instance of an awaited pass")
        finally:
            self._slots.release()
            with self._idle:
                self._running.discard(future)
                if not self._running:
                    self._idle.notify_all()
