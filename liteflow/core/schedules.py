"""Durable cron schedules: stored in the shared state, fired by whichever host gets there first.

Each due tick starts one instance in the whole cluster: its id is the schedule's id and the
tick's time (``daily-report@2026-03-02T09:00:00Z``), created with `create_workflow_if_new`,
so hosts firing the same tick at once (or a host firing it again after a crash) start it
once. Only then is the schedule's next tick moved on, by compare-and-set.

Ticks that no host started within `MISSED_AFTER` of their time were missed (every host was
down, the machine slept, a test's clock jumped past them): ``catch_up="latest"`` starts the
latest of them, ``"all"`` each of them (the latest `CATCH_UP_LIMIT`), ``"none"`` none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .cron import CronExpression
from .errors import InvalidArgumentError, ProviderError
from .providers import PersistenceProvider
from .records import WorkflowInstance
from .shared_state import SharedState
from .text import is_storable_text

__all__ = [
    "CATCH_UP_LIMIT",
    "MISSED_AFTER",
    "CronSchedule",
    "ScheduleBook",
    "schedule_tick",
    "tick_instance_id",
]

_KIND = "liteflow.schedule"
_CATCH_UP = ("latest", "all", "none")
#: At most this many missed ticks start with ``catch_up="all"`` (the latest ones).
CATCH_UP_LIMIT = 100
#: A tick not started within this long after its time was missed.
MISSED_AFTER = timedelta(minutes=1)
_MAX_ID = 100
_TICK_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_WRITE_TRIES = 20

#: Starts an instance of a schedule for a tick: (schedule, tick) -> instance id.
Starter = Callable[["CronSchedule", datetime], str]


@dataclass(frozen=True)
class CronSchedule:
    """A stored schedule, as `WorkflowHost.get_schedules` returns it."""

    schedule_id: str
    workflow_id: str
    cron: str
    version: int | None = None
    data: Any = None
    timezone: str = "UTC"
    catch_up: str = "latest"
    paused: bool = False
    #: The next tick to start (aware UTC); None if the expression matches nothing for 50 years.
    next_tick: datetime | None = None

    def _value(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "version": self.version,
            "cron": self.cron,
            "timezone": self.timezone,
            "catch_up": self.catch_up,
            "data": self.data,
            "paused": self.paused,
            "next_tick": self.next_tick,
        }

    @staticmethod
    def _of(state: SharedState) -> CronSchedule:
        return CronSchedule(state.key, **state.value)

    def _same_plan(self, other: CronSchedule) -> bool:
        """Whether both start the same workflow at the same ticks in the same way."""
        mine, theirs = self._value(), other._value()
        return all(mine[name] == theirs[name] for name in mine if name not in ("paused", "next_tick"))


def tick_instance_id(schedule_id: str, tick: datetime) -> str:
    """The id of the instance a schedule starts for `tick`."""
    return f"{schedule_id}@{tick.astimezone(timezone.utc).strftime(_TICK_FORMAT)}"


def schedule_tick(instance: WorkflowInstance) -> datetime | None:
    """The tick a schedule started `instance` for (its `reference` is the schedule's id);
    None for an instance no schedule started."""
    prefix = f"{instance.reference}@"
    if instance.reference is None or not instance.id.startswith(prefix):
        return None
    try:
        return datetime.strptime(instance.id[len(prefix) :], _TICK_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _checked_id(schedule_id: object) -> str:
    if not isinstance(schedule_id, str) or not schedule_id.strip() or len(schedule_id) > _MAX_ID:
        raise InvalidArgumentError(
            f"schedule_id must be a non-empty string of at most {_MAX_ID} characters, "
            f"got {schedule_id!r:.120}"
        )
    if not is_storable_text(schedule_id):
        raise InvalidArgumentError("schedule_id contains a lone surrogate, which stores cannot hold")
    return schedule_id


class ScheduleBook:
    """Reads, changes and fires the schedules in one store."""

    def __init__(self, persistence: PersistenceProvider, logger: logging.Logger) -> None:
        self._persistence = persistence
        self._logger = logger

    def add(self, schedule: CronSchedule, now: datetime) -> CronSchedule:
        """Store `schedule`. One already stored under its id keeps its progress (and pause)
        when it starts the same workflow at the same ticks; else it is replaced."""
        _checked_id(schedule.schedule_id)
        if schedule.catch_up not in _CATCH_UP:
            raise InvalidArgumentError(
                f"catch_up must be one of {', '.join(map(repr, _CATCH_UP))}, got {schedule.catch_up!r}"
            )
        expression = CronExpression(schedule.cron, schedule.timezone)
        for _ in range(_WRITE_TRIES):
            state = self._persistence.get_shared_state(_KIND, schedule.schedule_id)
            stored = None if state is None else CronSchedule._of(state)
            if stored is not None and stored._same_plan(schedule):
                return stored
            planned = CronSchedule(
                **{
                    **vars(schedule),
                    "paused": stored is not None and stored.paused,
                    "next_tick": expression.next_after(now),
                }
            )
            fresh = SharedState(
                _KIND, planned.schedule_id, planned._value(), 0 if state is None else state.version
            )
            if self._persistence.put_shared_state(fresh):
                return planned
        raise ProviderError(
            f"schedule {schedule.schedule_id!r} kept changing under add_schedule(); try again"
        )

    def remove(self, schedule_id: str) -> bool:
        """Delete a schedule; False if there was none with that id."""
        return self._persistence.delete_shared_state(_KIND, _checked_id(schedule_id))

    def set_paused(self, schedule_id: str, paused: bool, now: datetime) -> bool:
        """Pause or resume; a resumed schedule starts with its first tick after now (the
        ticks it slept through are skipped). False if there is no such schedule."""
        for _ in range(_WRITE_TRIES):
            state = self._persistence.get_shared_state(_KIND, _checked_id(schedule_id))
            if state is None:
                return False
            schedule = CronSchedule._of(state)
            if schedule.paused == paused:
                return True
            state.value["paused"] = paused
            if not paused:
                state.value["next_tick"] = CronExpression(schedule.cron, schedule.timezone).next_after(now)
            if self._persistence.put_shared_state(state):
                return True
        raise ProviderError(f"schedule {schedule_id!r} kept changing; try again")

    def all(self) -> list[CronSchedule]:
        """Every stored schedule, with its plan, pause and next tick."""
        return [CronSchedule._of(state) for state in self._persistence.get_shared_states(_KIND)]

    def due(self, now: datetime, runs: Callable[[CronSchedule], bool]) -> list[str]:
        """Ids of the schedules `runs` accepts that have a tick to start at `now`."""
        return [
            schedule.schedule_id
            for schedule in self.all()
            if not schedule.paused
            and schedule.next_tick is not None
            and schedule.next_tick <= now
            and runs(schedule)
        ]

    def fire_due(
        self, now: datetime, runs: Callable[[CronSchedule], bool], start: Starter
    ) -> datetime | None:
        """Start the due ticks of every schedule `runs` accepts; return the earliest next tick."""
        earliest: datetime | None = None
        for state in self._persistence.get_shared_states(_KIND):
            schedule = CronSchedule._of(state)
            if schedule.paused or schedule.next_tick is None or not runs(schedule):
                continue
            if schedule.next_tick <= now:
                self._fire(state, schedule, now, start)
                schedule = CronSchedule._of(state)
            if schedule.next_tick is not None and (earliest is None or schedule.next_tick < earliest):
                earliest = schedule.next_tick
        return earliest

    def _fire(self, state: SharedState, schedule: CronSchedule, now: datetime, start: Starter) -> None:
        assert schedule.next_tick is not None
        expression = CronExpression(schedule.cron, schedule.timezone)
        ticks = expression.ticks_between(schedule.next_tick, now, CATCH_UP_LIMIT)
        chosen = ticks if schedule.catch_up == "all" else ticks[-1:]
        if schedule.catch_up == "none" and ticks and now - ticks[-1] > MISSED_AFTER:
            chosen = []
        if len(chosen) < len(ticks) or len(ticks) == CATCH_UP_LIMIT:
            self._logger.warning(
                "schedule %s: ticks from %s to %s were missed; catch_up=%r starts %d of them",
                schedule.schedule_id,
                ticks[0],
                ticks[-1],
                schedule.catch_up,
                len(chosen),
            )
        for tick in chosen:
            try:
                start(schedule, tick)
            except ProviderError:
                raise  # the store failed for a moment: the tick is started when it answers
            except Exception:
                self._logger.exception("schedule %s: could not start its tick %s", schedule.schedule_id, tick)
        state.value["next_tick"] = expression.next_after(now)
        if not self._persistence.put_shared_state(state):
            self._logger.debug("schedule %s was fired or changed by another host", schedule.schedule_id)
