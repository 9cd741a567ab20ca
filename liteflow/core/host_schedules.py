"""The host's schedule methods (see `liteflow.core.schedules`), apart from the rest of the host."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .clock import Clock
from .registry import WorkflowRegistry
from .schedule_runner import ScheduleRunner
from .schedules import CronSchedule, ScheduleBook, tick_instance_id

__all__ = ["ScheduleMethods"]


class ScheduleMethods:
    """Mixed into `WorkflowHost`, which sets these attributes and has `start_workflow`."""

    registry: WorkflowRegistry
    clock: Clock
    _schedules: ScheduleBook
    _schedule_runner: ScheduleRunner | None
    start_workflow: Callable[..., str]

    def add_schedule(
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
        """Store a schedule that starts `workflow_id` at each tick of the five-field `cron`
        expression, read in the IANA `timezone`; return it as stored.

        Adding one that exists with the same plan changes nothing (every host may add its
        schedules at start-up); with another plan it is replaced. `catch_up` says what ticks
        missed while no host ran start: "latest", "all" or "none". Needs the ``cron`` extra.
        """
        self.registry.get_definition(workflow_id, version)  # a clear error for a typo, here
        schedule = CronSchedule(schedule_id, workflow_id, cron, version, data, timezone, catch_up)
        stored = self._schedules.add(schedule, self.clock.now())
        self._wake_schedules()
        return stored

    def remove_schedule(self, schedule_id: str) -> bool:
        """Delete a schedule; False if there was none. Instances it started run on."""
        return self._schedules.remove(schedule_id)

    def pause_schedule(self, schedule_id: str) -> bool:
        """Start no more ticks until `resume_schedule`; False if there is no such schedule."""
        return self._schedules.set_paused(schedule_id, True, self.clock.now())

    def resume_schedule(self, schedule_id: str) -> bool:
        """Start ticks again from the next one; those while paused are skipped."""
        resumed = self._schedules.set_paused(schedule_id, False, self.clock.now())
        self._wake_schedules()
        return resumed

    def get_schedules(self) -> list[CronSchedule]:
        """Every stored schedule, by id."""
        return self._schedules.all()

    def due_schedules(self) -> list[str]:
        """Ids of the schedules with a tick this host would start now (`FakeClock` waits for them)."""
        return self._schedules.due(self.clock.now(), self._runs_schedule)

    def _wake_schedules(self) -> None:
        if self._schedule_runner is not None:
            self._schedule_runner.wake()

    def _runs_schedule(self, schedule: CronSchedule) -> bool:
        return self.registry.is_registered(schedule.workflow_id, schedule.version)

    def _start_tick(self, schedule: CronSchedule, tick: datetime) -> str:
        return self.start_workflow(
            schedule.workflow_id,
            schedule.version,
            schedule.data,
            reference=schedule.schedule_id,
            instance_id=tick_instance_id(schedule.schedule_id, tick),
        )
