"""`WorkflowTest`: a host on a `FakeClock` for testing workflows, in the style of Workflow Core's."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import Any

from ..clock import to_timedelta
from ..configure import configure_workflow_host
from ..errors import HostStateError, InvalidArgumentError
from ..host import WorkflowHost
from ..providers import PersistenceProvider
from ..records import ExecutionError, WorkflowInstance
from ..workflow import Workflow
from .clock import FakeClock

__all__ = ["WorkflowTest"]

_POLL = 0.002


class WorkflowTest:
    """Starts a host on a `FakeClock` (and stops it), with the calls a test of workflows makes::

        with WorkflowTest(MyWorkflow()) as test:
            workflow_id = test.start_workflow("MyWorkflow", {"value": 1})
            test.advance(timedelta(hours=1))
            test.wait_for_workflow_to_complete(workflow_id)
            assert test.get_status(workflow_id) == WorkflowInstance.COMPLETE

    Host options (``step_middleware=[...]``...) may be given as keywords.
    """

    def __init__(
        self, *workflows: Workflow, persistence_service: PersistenceProvider | None = None, **options: Any
    ) -> None:
        if "clock" in options:
            raise InvalidArgumentError("WorkflowTest brings its own FakeClock (its `clock` attribute)")
        self.clock = FakeClock()
        self.host: WorkflowHost = configure_workflow_host(persistence_service, clock=self.clock, **options)
        for workflow in workflows:
            self.register_workflow(workflow)

    def register_workflow(self, workflow: Workflow) -> None:
        """Register one more workflow on the test's host (also once it has started)."""
        self.host.register_workflow(workflow)

    def __enter__(self) -> WorkflowTest:
        self.host.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.host.stop(timeout=5)

    def start_workflow(self, workflow_id: str, data: Any = None, version: int | None = None) -> str:
        """Start an instance of a registered workflow; return its id."""
        return self.host.start_workflow(workflow_id, version, data)

    def publish_event(self, event_name: str, event_key: Any, event_data: Any = None) -> str:
        """Publish an event to the test's host and return its id."""
        return self.host.publish_event(event_name, event_key, event_data)

    def advance(self, duration: timedelta | float) -> None:
        """Move the clock forward, once the host has done all that is due at the current time
        (so a step about to sleep is asleep before the time it waits for goes by)."""
        if not self.host.is_running:
            raise HostStateError("the WorkflowTest's host is not running: use it in a with block")
        try:
            step = to_timedelta(duration, "advance duration")
        except TypeError as exc:
            raise InvalidArgumentError(str(exc)) from None
        self.clock.advance(step)

    def wait_for_workflow_to_complete(self, workflow_id: str, timeout: float = 5) -> WorkflowInstance:
        """Wait (real seconds) until the instance is no longer runnable: complete, terminated or
        suspended; return it. TimeoutError names its status when `timeout` passes first."""
        instance: WorkflowInstance = self._poll(
            lambda: self._finished(workflow_id),
            timeout,
            lambda: (
                f"workflow {workflow_id} is still runnable after {timeout} s "
                "(waiting for an event, or for the clock to be advanced?)"
            ),
        )
        return instance

    def get_status(self, workflow_id: str) -> int:
        """The instance's stored status (`WorkflowInstance.RUNNABLE`, `COMPLETE`, ...)."""
        return self.host.get_workflow_instance(workflow_id).status

    def get_data(self, workflow_id: str) -> Any:
        """The instance's stored workflow data."""
        return self.host.get_workflow_instance(workflow_id).data

    @property
    def unhandled_step_errors(self) -> list[ExecutionError]:
        """Every error recorded so far, of every instance in the store, oldest first."""
        store = self.host.persistence_service
        errors: list[ExecutionError] = []
        skip = 0
        while page := store.get_workflow_instances(skip=skip, take=100):
            for instance in page:
                errors += store.get_errors(instance.id)
            skip += len(page)
        return sorted(errors, key=lambda error: (error.error_time is None, error.error_time))

    def _finished(self, workflow_id: str) -> WorkflowInstance | None:
        instance = self.host.get_workflow_instance(workflow_id)
        return None if instance.status == WorkflowInstance.RUNNABLE else instance

    @staticmethod
    def _poll(condition: Callable[[], Any], timeout: float, failure: Callable[[], str]) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(failure())
            time.sleep(_POLL)
