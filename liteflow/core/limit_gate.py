"""Enforces flow limits across a cluster: concurrency slots, waiting lists and rate windows.

- A concurrency slot is a lock of the lock provider (``liteflow:slot:<workflow>:<n>``, and
  per key ``liteflow:slot:<workflow>:key:<key>:<n>``), held while a pass runs. A host that
  dies loses its locks, so its slots come free after its lock's lease at most.
- An instance that finds no free slot writes itself on the limit's waiting list (shared
  state, in the store) and waits: whoever frees a slot queues the first instance on the list.
  As a backstop, the instance is due again after the poll interval (a slot whose holder died
  frees no one).
- A rate limit reserves each step execution a time in a sliding window of the last `count`
  grants (shared state): at most `count` in any period. An instance whose reservation lies in
  the future sleeps until then, and runs on it.

Nothing here runs a step or changes one: an instance held back is written with a later
`next_execution` only, so a limit never loses or repeats a step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .clock import MIN_TIME
from .definition import WorkflowDefinition
from .errors import InvalidArgumentError, ProviderError
from .executor import next_execution_of
from .providers import QueueType
from .records import WorkflowInstance, event_key_text
from .shared_state import SharedState
from .worker_services import Services

__all__ = ["Admission", "LimitGate", "check_concurrency_key"]

#: Tries at a compare-and-set of a rate window that other hosts keep changing.
_RATE_TRIES = 20
_RATE = "liteflow.rate"
_MICROSECOND = timedelta(microseconds=1)


def _concurrency_key(definition: WorkflowDefinition, data: Any) -> str | None:
    function = definition.limits.concurrency_key
    if function is None:
        return None
    return event_key_text(function(data), f"workflow {definition.id!r}: concurrency_key(data)")


def check_concurrency_key(definition: WorkflowDefinition, data: Any) -> None:
    """Fail at `start_workflow`, where the data comes from, if its key cannot be made."""
    try:
        _concurrency_key(definition, data)
    except InvalidArgumentError:
        raise
    except Exception as exc:
        raise InvalidArgumentError(
            f"workflow {definition.id!r}: concurrency_key(data) raised {type(exc).__name__}: {exc}"
        ) from exc


@dataclass
class _Limit:
    """One concurrency limit: its slots' lock names and its waiting list's kind."""

    name: str
    size: int

    def slots(self) -> list[str]:
        start = random.randrange(self.size)  # spread contenders over the slots
        return [f"liteflow:slot:{self.name}:{(start + n) % self.size}" for n in range(self.size)]

    @property
    def waiting(self) -> str:
        return f"liteflow.waiting:{self.name}"


@dataclass
class Admission:
    """What a run of passes over one instance holds: its slots, for as long as it runs."""

    slots: list[tuple[_Limit, str]] = field(default_factory=list)
    checked: bool = False


def _micros(moment: datetime) -> int:
    return (moment - MIN_TIME) // _MICROSECOND


def _moment(micros: int) -> datetime:
    return MIN_TIME + micros * _MICROSECOND


class LimitGate:
    """Admits a pass over an instance of a limited workflow, or says until when it waits."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def admit(
        self, workflow: WorkflowInstance, definition: WorkflowDefinition, admission: Admission
    ) -> datetime | None:
        """None to run the pass (a rate-limited one runs one step); else the time until
        which the instance waits. Slots taken are kept in `admission` until `release`."""
        limits = definition.limits
        now = self._services.clock.now()
        if not admission.checked:
            held_back = self._take_slots(workflow, definition, admission, now)
            if held_back is not None:
                return held_back
            admission.checked = True
        ready = next_execution_of(workflow, now)
        if limits.rate_count is not None and ready is not None and ready <= now:
            permit = self._reserve(definition, workflow.id, now)
            if permit > now:
                return permit
        return None

    def release(self, admission: Admission) -> None:
        """Free the slots, and queue the first waiter of each limit they belong to."""
        services = self._services
        for _, slot in admission.slots:
            services.lock.release_lock(slot)
        for limit, _ in admission.slots:
            for waiter in services.persistence.get_shared_states(limit.waiting, take=1):
                if services.persistence.delete_shared_state(limit.waiting, waiter.key, waiter.version):
                    services.queue.queue_work(QueueType.WORKFLOW, waiter.key)
        admission.slots.clear()

    def _limits(self, workflow: WorkflowInstance, definition: WorkflowDefinition) -> list[_Limit]:
        limits = definition.limits
        chosen = []
        key = _concurrency_key(definition, workflow.data)
        if limits.max_concurrent_per_key is not None and key is not None:
            chosen.append(_Limit(f"{definition.id}:key:{key}", limits.max_concurrent_per_key))
        if limits.max_concurrent is not None:
            chosen.append(_Limit(definition.id, limits.max_concurrent))
        return chosen

    def _take_slots(
        self,
        workflow: WorkflowInstance,
        definition: WorkflowDefinition,
        admission: Admission,
        now: datetime,
    ) -> datetime | None:
        services = self._services
        limits = self._limits(workflow, definition)
        natural = next_execution_of(workflow, now)
        # An instance written back with a later wake-up than its steps need was held back.
        was_waiting = (
            workflow.next_execution is not None
            and natural is not None
            and natural < (workflow.next_execution)
        )
        for limit in limits:
            slot = self._take(limit) or self._wait_in_line(limit, workflow.id)
            if slot is None:
                self.release(admission)
                return now + services.options.poll_interval
            admission.slots.append((limit, slot))
        if was_waiting:
            for limit in limits:
                services.persistence.delete_shared_state(limit.waiting, workflow.id)
        return None

    def _take(self, limit: _Limit) -> str | None:
        for slot in limit.slots():
            if self._services.lock.acquire_lock(slot):
                return slot
        return None

    def _wait_in_line(self, limit: _Limit, workflow_id: str) -> str | None:
        """Join the waiting list, then look once more: a slot freed between the first look and
        joining would otherwise wake nobody."""
        persistence = self._services.persistence
        since = {"since": _micros(self._services.clock.now())}
        persistence.put_shared_state(SharedState(limit.waiting, workflow_id, since))
        slot = self._take(limit)
        if slot is not None:
            persistence.delete_shared_state(limit.waiting, workflow_id)
        return slot

    def _reserve(self, definition: WorkflowDefinition, workflow_id: str, now: datetime) -> datetime:
        """The time of this instance's next step execution: now, or a reserved later time.

        The window holds the last `count` grants as [time, holder]: a future grant names the
        instance it is reserved for (which takes it when that time comes), a taken one "".
        """
        limits = definition.limits
        assert limits.rate_count is not None and limits.rate_period is not None
        count, period = limits.rate_count, limits.rate_period
        persistence = self._services.persistence
        for _ in range(_RATE_TRIES):
            state = persistence.get_shared_state(_RATE, definition.id) or SharedState(
                _RATE, definition.id, []
            )
            grants: list[list[Any]] = sorted(state.value)
            mine = [grant for grant in grants if grant[1] == workflow_id]
            if mine:
                grant = mine[0]
                if _moment(grant[0]) > now:
                    return _moment(grant[0])
                grant[1] = ""
                granted = _moment(grant[0])
            else:
                earliest = now if len(grants) < count else max(now, _moment(grants[-count][0]) + period)
                grants.append([_micros(earliest), workflow_id if earliest > now else ""])
                granted = earliest
            state.value = grants[-count:]
            if persistence.put_shared_state(state):
                return granted if granted > now else now
        raise ProviderError(
            f"workflow {definition.id!r}: its rate window changed {_RATE_TRIES} times in a row; trying again"
        )
