"""Stored state: workflow instances, their execution pointers, events, subscriptions, errors."""

from __future__ import annotations

import os
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import InvalidArgumentError
from .text import is_storable_text

__all__ = [
    "WorkflowInstance",
    "ExecutionPointer",
    "Event",
    "EventSubscription",
    "ExecutionError",
    "WorkflowAction",
    "checked_event_name",
    "checked_instance_id",
    "event_key_text",
    "new_id",
    "MAX_INSTANCE_ID",
]


class ExecutionPointer:
    """One execution of one step inside a workflow instance."""

    PENDING = 0
    RUNNING = 1
    COMPLETE = 2
    SLEEPING = 3
    WAITING = 4
    FAILED = 5
    COMPENSATED = 6
    CANCELLED = 7
    PENDING_PREDECESSOR = 8
    #: Marked complete by an operator (`WorkflowHost.skip_step`) without running again.
    SKIPPED = 9

    def __init__(self) -> None:
        self.id: str = ""
        self.step_id: int = 0
        self.active: bool = False
        self.sleep_until: datetime | None = None
        self.persistence_data: Any = None
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self.event_name: str | None = None
        self.event_key: str | None = None
        self.event_published: bool = False
        self.event_data: Any = None
        self.context_item: Any = None
        self.predecessor_id: str | None = None
        self.outcome: Any = None
        self.status: int = ExecutionPointer.PENDING
        self.retry_count: int = 0
        self.children: list[str] = []
        self.scope: list[str] = []
        self.step_name: str | None = None

    def clone(self) -> ExecutionPointer:
        """Copy the pointer and its lists; payload values are shared."""
        twin = ExecutionPointer.__new__(ExecutionPointer)
        twin.__dict__.update(self.__dict__)
        twin.children = list(self.children)
        twin.scope = list(self.scope)
        return twin

    def __repr__(self) -> str:
        return (
            f"ExecutionPointer(id={self.id!r}, step_id={self.step_id}, status={self.status}, "
            f"active={self.active})"
        )


class WorkflowInstance:
    """A running (or finished) workflow: its data and its execution pointers."""

    RUNNABLE = 0
    SUSPENDED = 1
    COMPLETE = 2
    TERMINATED = 3

    def __init__(self) -> None:
        self.id: str = ""
        self.workflow_definition_id: str = ""
        self.version: int = 1
        self.description: str | None = None
        self.reference: str | None = None
        self.parent_workflow_id: str | None = None
        self.next_execution: datetime | None = None
        self.status: int = WorkflowInstance.RUNNABLE
        self.data: Any = None
        self.create_time: datetime | None = None
        self.complete_time: datetime | None = None
        #: The caller's trace context at `start_workflow` (propagation headers as JSON text,
        #: written by `liteflow.otel`); opaque to the engine.
        self.trace_context: str | None = None
        #: What operators did to the instance (suspend, retry, skip, fork...), oldest first.
        self.actions: list[WorkflowAction] = []
        self.execution_pointers: list[ExecutionPointer] = []

    def clone(self) -> WorkflowInstance:
        """Copy the instance, its pointers and its actions; `data` is shared, not copied."""
        twin = WorkflowInstance.__new__(WorkflowInstance)
        twin.__dict__.update(self.__dict__)
        twin.execution_pointers = [pointer.clone() for pointer in self.execution_pointers]
        twin.actions = list(self.actions)
        return twin

    def find_pointer(self, pointer_id: str) -> ExecutionPointer | None:
        """The pointer with that id still held by the instance (None if there is none, or it left
        for the history)."""
        for pointer in self.execution_pointers:
            if pointer.id == pointer_id:
                return pointer
        return None

    def __repr__(self) -> str:
        return (
            f"WorkflowInstance(id={self.id!r}, definition={self.workflow_definition_id!r}, "
            f"version={self.version}, status={self.status})"
        )


@dataclass(frozen=True)
class WorkflowAction:
    """One thing an operator did to an instance, kept in its `actions`.

    It lives in the instance's own record, so the action and the note of it are one write:
    an action is never stored without its note, nor a note without its action.
    """

    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"
    RETRY = "retry"
    SKIP = "skip"
    #: On the instance a fork was made from; `other_workflow_id` is the new instance.
    FORK = "fork"
    #: On the new instance; `other_workflow_id` is the one it was forked from.
    FORKED_FROM = "forked-from"

    action: str
    time: datetime
    #: Who did it, as given by the caller (free text: a user name, a ticket...).
    actor: str | None = None
    #: The step the action named (retried from, skipped, forked at), if any.
    step_id: int | None = None
    #: The other instance of a fork.
    other_workflow_id: str | None = None
    #: What happened, for people.
    detail: str | None = None


class Event:
    """An external event, stored before it is matched to subscriptions."""

    def __init__(self) -> None:
        self.id: str = ""
        self.event_name: str = ""
        self.event_key: str | None = None
        self.event_data: Any = None
        self.event_time: datetime | None = None
        self.is_processed: bool = False

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, name={self.event_name!r}, key={self.event_key!r})"


class EventSubscription:
    """A workflow step waiting for events of (name, key) published at or after `subscribe_as_of`."""

    def __init__(self) -> None:
        self.id: str = ""
        self.workflow_id: str = ""
        self.step_id: int = 0
        self.execution_pointer_id: str | None = None
        self.event_name: str = ""
        self.event_key: str | None = None
        self.subscribe_as_of: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"EventSubscription(id={self.id!r}, workflow={self.workflow_id!r}, "
            f"name={self.event_name!r}, key={self.event_key!r})"
        )


class ExecutionError:
    """A step failure, kept for diagnosis."""

    def __init__(self) -> None:
        self.error_time: datetime | None = None
        self.workflow_id: str = ""
        self.execution_pointer_id: str = ""
        self.message: str = ""
        #: The formatted traceback of a step's exception (its last lines when it is long).
        self.traceback: str | None = None

    def __repr__(self) -> str:
        return f"ExecutionError(workflow={self.workflow_id!r}, message={self.message!r})"


#: Seeded from the OS once per process (again in a forked child): `os.urandom` per id is a
#: system call that lets go of the GIL, a thread switch on every pointer a step creates.
_random_bits = random.Random(os.urandom(32)).getrandbits


def _reseed() -> None:
    global _random_bits
    _random_bits = random.Random(os.urandom(32)).getrandbits


os.register_at_fork(after_in_child=_reseed)


def new_id() -> str:
    """32 hex digits: the time in microseconds, then 72 random bits.

    Ids made later sort later, so a store's primary-key index grows at its end instead of
    touching a random page on every insert; 72 random bits (from a generator each process
    seeds from the OS) keep ids made in the same microsecond on different nodes apart.
    """
    return f"{time.time_ns() // 1000:014x}{_random_bits(72):018x}"


def event_key_text(key: Any, what: str = "event key") -> str | None:
    """Event keys are compared as text, so 42 and "42" (or a UUID and its string) match.

    A key is a str, an int or a UUID (or None): other values have no text that means the
    same everywhere (``b"42"`` would become ``"b'42'"``, an object its address). The text is
    made by the built-in types' own code, never by a subclass's ``__str__``.
    """
    if key is None:
        return None
    cls = type(key)
    if issubclass(cls, str):
        text = str.__str__(key)
    elif issubclass(cls, int) and not issubclass(cls, bool):
        try:
            text = int.__repr__(key)
        except ValueError:  # beyond sys.get_int_max_str_digits()
            raise InvalidArgumentError(f"{what} is an int too large to write as text") from None
    elif cls is uuid.UUID:
        text = str(key)
    else:
        raise InvalidArgumentError(f"{what} must be a str, int or UUID, got {cls.__qualname__}")
    if not is_storable_text(text):
        raise InvalidArgumentError(f"{what} contains a lone surrogate, which stores cannot hold as text")
    return text


def checked_event_name(name: object, where: str) -> str:
    """An event name is non-empty text that every store can hold."""
    if not isinstance(name, str) or not name:
        shown = repr(name) if isinstance(name, str) else type(name).__name__
        raise InvalidArgumentError(f"{where} needs a non-empty event name, got {shown}")
    if not is_storable_text(name):
        raise InvalidArgumentError(
            f"{where}: the event name contains a lone surrogate, which stores cannot hold"
        )
    return name


#: Longest instance id a caller may choose (it also names the instance's lock and queue items).
MAX_INSTANCE_ID = 200


def checked_instance_id(instance_id: object) -> str:
    """A caller's instance id is non-empty text, at most `MAX_INSTANCE_ID` characters, that
    every store can hold."""
    if not isinstance(instance_id, str) or not instance_id.strip():
        shown = repr(instance_id) if isinstance(instance_id, str) else type(instance_id).__name__
        raise InvalidArgumentError(f"instance_id must be a non-empty string, got {shown}")
    if len(instance_id) > MAX_INSTANCE_ID or not is_storable_text(instance_id):
        raise InvalidArgumentError(
            f"instance_id must be at most {MAX_INSTANCE_ID} characters of storable text, "
            f"got {instance_id!r:.80}"
        )
    return instance_id
