"""Helpers of the async step tests: workflows made of given steps, and what steps record."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from liteflow.core import Workflow, WorkflowBuilder

__all__ = ["Chain", "Overlap", "thread_name"]

_numbers = itertools.count()


class Chain(Workflow):
    """A workflow of `steps` one after the other (or shaped by `build`), under an id of its own."""

    def __init__(self, *steps: Any, build: Callable[[WorkflowBuilder], Any] | None = None) -> None:
        self._id = f"Chain{next(_numbers)}"
        self._steps = steps
        self._build = build

    def id(self) -> str:
        return self._id

    def build(self, builder: WorkflowBuilder) -> None:
        if self._build is not None:
            self._build(builder)
            return
        chained = builder.start_with(self._steps[0])
        for step in self._steps[1:]:
            chained = chained.then(step)


class Overlap:
    """Counts the steps inside `running()` at once, and the most there ever were."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1


def thread_name() -> str:
    return threading.current_thread().name
