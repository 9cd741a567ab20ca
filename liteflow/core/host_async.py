"""The host's methods for applications running their own event loop (FastAPI, aiohttp...).

Each one does what its synchronous twin does, in a thread of the caller's loop's default
executor (`asyncio.to_thread`), so the caller's loop keeps running meanwhile. The call runs in
a copy of the caller's context: a workflow middleware sees the caller's context variables
(`liteflow.otel` takes the caller's trace from there); the workflow's steps never do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from .records import WorkflowInstance
from .schedules import CronSchedule

if TYPE_CHECKING:
    from .host import WorkflowHost

__all__ = ["AsyncHostMethods", "finished", "poll_pauses", "unfinished_error"]


def finished(instance: WorkflowInstance) -> bool:
    """Whether the instance will run no more steps (complete or terminated)."""
    return instance.status in (WorkflowInstance.COMPLETE, WorkflowInstance.TERMINATED)


def poll_pauses(timeout: float) -> Iterator[float]:
    """The pauses between looks at an instance until `timeout` seconds passed: 2 ms doubling
    to 100 ms, the last one cut to end at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while (left := deadline - time.monotonic()) > 0:
        yield min(delay, left)
        delay = min(delay * 2, 0.1)


def unfinished_error(instance: WorkflowInstance, timeout: float) -> TimeoutError:
    """The error a wait for a workflow raises at its deadline, naming the instance and its status."""
    return TimeoutError(
        f"workflow {instance.id} did not finish within {timeout} s (status {instance.status})"
    )


class AsyncHostMethods:
    """`WorkflowHost`'s async methods; none blocks the event loop it is awaited on."""

    @property
    def _host(self) -> WorkflowHost:
        """This host, as the class with the synchronous methods."""
        return cast("WorkflowHost", self)

    async def start_async(self) -> None:
        """`start`, on a worker thread so the event loop keeps running."""
        await asyncio.to_thread(self._host.start)

    async def stop_async(self, timeout: float | None = None) -> None:
        """`stop`: waits for running steps (sync and async) up to the shutdown timeout."""
        await asyncio.to_thread(self._host.stop, timeout)

    async def __aenter__(self) -> WorkflowHost:
        await self.start_async()
        return self._host

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop_async()

    async def start_workflow_async(
        self,
        workflow_id: str,
        version: int | None = None,
        data: Any = None,
        reference: str | None = None,
        *,
        instance_id: str | None = None,
    ) -> str:
        """`start_workflow`: create an instance and return its id (with `instance_id`, once)."""
        start = partial(self._host.start_workflow, instance_id=instance_id)
        return await asyncio.to_thread(start, workflow_id, version, data, reference)

    async def publish_event_async(
        self,
        event_name: str,
        event_key: Any,
        event_data: Any = None,
        effective_date: datetime | None = None,
    ) -> str:
        """`publish_event`: store an event for the workflows waiting for it; return its id."""
        return await asyncio.to_thread(
            self._host.publish_event, event_name, event_key, event_data, effective_date
        )

    async def get_workflow_instance_async(self, workflow_id: str) -> WorkflowInstance:
        """`get_workflow_instance`, read on a worker thread."""
        return await asyncio.to_thread(self._host.get_workflow_instance, workflow_id)

    async def wait_for_workflow_async(self, workflow_id: str, timeout: float = 30.0) -> WorkflowInstance:
        """`wait_for_workflow`: the instance once it completed or was terminated; TimeoutError
        naming it and its status after `timeout` seconds."""
        for pause in poll_pauses(timeout):
            instance = await self.get_workflow_instance_async(workflow_id)
            if finished(instance):
                return instance
            await asyncio.sleep(pause)
        instance = await self.get_workflow_instance_async(workflow_id)
        if finished(instance):
            return instance
        raise unfinished_error(instance, timeout)

    async def suspend_workflow_async(self, workflow_id: str, *, actor: str | None = None) -> bool:
        """`suspend_workflow`: False if the instance was not runnable."""
        return await asyncio.to_thread(partial(self._host.suspend_workflow, workflow_id, actor=actor))

    async def resume_workflow_async(self, workflow_id: str, *, actor: str | None = None) -> bool:
        """`resume_workflow`: False if the instance was not suspended."""
        return await asyncio.to_thread(partial(self._host.resume_workflow, workflow_id, actor=actor))

    async def terminate_workflow_async(self, workflow_id: str, *, actor: str | None = None) -> bool:
        """`terminate_workflow`: False if the instance had already finished."""
        return await asyncio.to_thread(partial(self._host.terminate_workflow, workflow_id, actor=actor))

    async def retry_workflow_async(
        self, workflow_id: str, from_step: int | str | None = None, *, actor: str | None = None
    ) -> None:
        """`retry_workflow`: run a suspended or terminated instance again, from `from_step` when given."""
        await asyncio.to_thread(partial(self._host.retry_workflow, workflow_id, from_step, actor=actor))

    async def skip_step_async(self, workflow_id: str, step: int | str, *, actor: str | None = None) -> None:
        """`skip_step`: go on past `step` as if it had completed."""
        await asyncio.to_thread(partial(self._host.skip_step, workflow_id, step, actor=actor))

    async def fork_workflow_async(
        self, workflow_id: str, from_step: int | str, *, actor: str | None = None
    ) -> str:
        """`fork_workflow`: a new instance of the same definition at `from_step`; returns its id."""
        return await asyncio.to_thread(partial(self._host.fork_workflow, workflow_id, from_step, actor=actor))

    async def add_schedule_async(
        self,
        schedule_id: str,
        workflow_id: str,
        cron: str,
        *,
        version: int | None = None,
        data: Any = None,
        timezone: str = "UTC",
        catch_up: str = "latest",
    ) -> CronSchedule:
        """`add_schedule`: store a cron schedule of `workflow_id`; return it as stored."""
        add = partial(
            self._host.add_schedule,
            version=version,
            data=data,
            timezone=timezone,
            catch_up=catch_up,
        )
        return await asyncio.to_thread(add, schedule_id, workflow_id, cron)

    async def remove_schedule_async(self, schedule_id: str) -> bool:
        """`remove_schedule`: False if there was none with that id."""
        return await asyncio.to_thread(self._host.remove_schedule, schedule_id)

    async def pause_schedule_async(self, schedule_id: str) -> bool:
        """`pause_schedule`: no starts until resumed; False if there is no such schedule."""
        return await asyncio.to_thread(self._host.pause_schedule, schedule_id)

    async def resume_schedule_async(self, schedule_id: str) -> bool:
        """`resume_schedule`: starts again from its first tick after now."""
        return await asyncio.to_thread(self._host.resume_schedule, schedule_id)

    async def get_schedules_async(self) -> list[CronSchedule]:
        """`get_schedules`: every stored schedule."""
        return await asyncio.to_thread(self._host.get_schedules)
