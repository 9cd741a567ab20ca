"""Daemon threads that run calls handed to them, made as needed and reused.

A `concurrent.futures.ThreadPoolExecutor` joins its threads when the interpreter exits, so
one synchronous step that never returns would hold up the exit of the whole application;
the host's worker threads are daemons, and so are these.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["DaemonThreadPool"]

T = TypeVar("T")

_Call = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...]]


class DaemonThreadPool:
    """Runs each submitted call on a thread: an idle one, else a new one (up to `max_threads`).

    Every call submitted has a thread reserved for it (an idle one, or one started for it)
    unless `max_threads` are busy: a call that waits for another call of the same pool never
    waits for a thread that only that other call could free, as long as the pool is unbounded.
    """

    def __init__(self, name: str, max_threads: int | None = None) -> None:
        self._name = name
        self._max_threads = max_threads
        self._calls: SimpleQueue[_Call | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name} threads were shut down")
            if self._idle:
                self._idle -= 1
            elif self._max_threads is None or self._threads < self._max_threads:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self._name}-{self._threads}", daemon=True).start()
            self._calls.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """Let every thread end once the calls queued so far are done; later submits raise."""
        with self._lock:
            self._closed = True
            threads = self._threads
        for _ in range(threads):
            self._calls.put(None)

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            future, fn, args = call
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:
                    future.set_exception(exc)
            del call, future, fn, args
            with self._lock:
                self._idle += 1
        with self._lock:
            self._threads -= 1
