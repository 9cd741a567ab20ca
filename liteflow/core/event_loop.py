"""The host's event loop, on a thread of its own, and the bridges between it and threads.

Awaited steps run on this loop; nothing that blocks does. Blocking calls the loop needs made
(a store write, a synchronous step or middleware inside an awaited chain) go to threads:
store calls to a few `io` threads, synchronous code of steps to `step` threads made as
needed (the cap on awaited steps bounds how many).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from .errors import HostStateError
from .threads import DaemonThreadPool

__all__ = ["HostEventLoop"]

T = TypeVar("T")

#: How long stopping waits for cancelled tasks to unwind before closing the loop.
_CANCEL_GRACE = 2.0


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class HostEventLoop:
    """One asyncio loop in a daemon thread, started and stopped with the host."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._io = DaemonThreadPool("liteflow-io")
        self._steps = DaemonThreadPool("liteflow-step")

    def start(self, io_threads: int) -> None:
        loop = asyncio.new_event_loop()
        self._io = DaemonThreadPool("liteflow-io", io_threads)
        self._steps = DaemonThreadPool("liteflow-step")
        self._thread = threading.Thread(
            target=self._run, args=(loop,), name="liteflow-event-loop", daemon=True
        )
        self._loop = loop
        self._thread.start()

    def stop(self) -> None:
        """Cancel what still runs on the loop, give it a moment to unwind, close the loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = None
        cancelled = asyncio.run_coroutine_threadsafe(_cancel_all(), loop)
        try:
            cancelled.result(_CANCEL_GRACE)
        except Exception:
            self._logger.warning("tasks of the event loop did not unwind within %.0f s", _CANCEL_GRACE)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_CANCEL_GRACE)
        self._io.shutdown()
        self._steps.shutdown()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            raise HostStateError("the host is not running: start() it before running async steps")
        return loop

    def is_loop_thread(self) -> bool:
        thread = self._thread
        return thread is not None and thread.ident == threading.get_ident()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run `coroutine` as a task of the loop (from any thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def wait(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` on the loop and block this thread (never the loop's) for its result."""
        if self.is_loop_thread():
            if isinstance(awaitable, Coroutine):
                awaitable.close()
            raise HostStateError("cannot wait for the event loop on its own thread")
        return self.submit(_awaited(awaitable)).result()

    def io(self, fn: Callable[..., T], /, *args: Any) -> asyncio.Future[T]:
        """`fn(*args)`, a store call, on an io thread; the loop awaits the result."""
        return asyncio.wrap_future(self._io.submit(fn, *args), loop=self.loop)

    def io_later(self, fn: Callable[..., Any], /, *args: Any) -> None:
        """`fn(*args)` on an io thread, not awaited (what must run even in a cancelled task)."""
        self._io.submit(fn, *args)

    async def in_thread(self, fn: Callable[[], Any]) -> Any:
        """Synchronous code of a step, on a step thread in a copy of the current context; an
        awaitable it returns is awaited here."""
        context = contextvars.copy_context()
        result = await asyncio.wrap_future(self._steps.submit(context.run, fn), loop=self.loop)
        while _is_awaitable(result):
            result = await result
        return result

    def blocking(self, awaited: Callable[[], Awaitable[T]]) -> Callable[[], T]:
        """A synchronous callable (for a step thread) that awaits `awaited()` on the loop."""
        return lambda: self.wait(awaited())

    def threaded(self, fn: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
        """A callable returning an awaitable that runs `fn` on a step thread."""
        return lambda: self.in_thread(fn)

    async def in_own_context(self, awaited: Callable[[], Awaitable[T]]) -> T:
        """Await `awaited()` as a task of its own, in an empty context: a step sees no context
        variable of its caller, of the loop or of other steps, and what it sets stays its own."""
        return await contextvars.Context().run(_task, awaited)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _task(awaited: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
    return asyncio.ensure_future(_awaited(awaited()))


def _is_awaitable(value: object) -> bool:
    return hasattr(value, "__await__")


async def _cancel_all() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=_CANCEL_GRACE)
