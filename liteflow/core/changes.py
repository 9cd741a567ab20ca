"""What one pass over a workflow instance produced, for the store to write all at once.

A pass may move the instance's pointers, subscribe to events, end the subscription whose
event woke it, record errors, tell a parent workflow that it finished, and mark events
processed (or unprocessed, so the poller finds one a crash could otherwise lose). Written
separately, a crash between two of those writes leaves a state no pass produced: a step
that ran twice, an event delivered and then lost, a parent never told. So the engine hands
them to the store as one `WorkflowChanges`, and queues work only after the write succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import Event, EventSubscription, ExecutionError, ExecutionPointer, WorkflowInstance

__all__ = ["WorkflowChanges"]


@dataclass(eq=False)
class WorkflowChanges:
    """One atomic write: the instance and everything its pass produced besides it."""

    workflow: WorkflowInstance
    #: New subscriptions; the store assigns the ids of those without one.
    subscriptions: list[EventSubscription] = field(default_factory=list)
    #: Ids of subscriptions that ended (their event was delivered).
    ended_subscriptions: list[str] = field(default_factory=list)
    errors: list[ExecutionError] = field(default_factory=list)
    #: New events (a finished child's news for its parent); the store assigns missing ids.
    events: list[Event] = field(default_factory=list)
    #: Event id -> whether it is now processed.
    event_marks: dict[str, bool] = field(default_factory=dict)
    #: Finished pointers that left the instance for its history (see `history`), oldest first.
    archived_pointers: list[ExecutionPointer] = field(default_factory=list)

    @property
    def has_side_effects(self) -> bool:
        """Whether anything besides the instance itself is to be written."""
        return bool(
            self.subscriptions
            or self.ended_subscriptions
            or self.errors
            or self.events
            or self.event_marks
            or self.archived_pointers
        )
