"""`configure_workflow_host`: the seed's entry point."""

from __future__ import annotations

from typing import Any

from .host import WorkflowHost
from .local import LocalLockProvider, SingleNodeQueueProvider
from .memory import MemoryPersistenceProvider
from .options import HostOptions
from .providers import LockProvider, PersistenceProvider, QueueProvider

__all__ = ["configure_workflow_host"]


def configure_workflow_host(
    persistence_service: PersistenceProvider | None = None,
    queue_service: QueueProvider | None = None,
    lock_service: LockProvider | None = None,
    **options: Any,
) -> WorkflowHost:
    """Create a host; each omitted provider gets a fresh single-node default of its own.

    Options (keywords): poll_interval, idle_time, default_error_retry_interval (timedelta or
    seconds), max_concurrent_workflows, event_workers, max_concurrent_async_steps,
    shutdown_timeout, logger, clock, step_middleware, workflow_middleware,
    lifecycle_event_hub, lifecycle_buffer.
    """
    return WorkflowHost(
        persistence_service if persistence_service is not None else MemoryPersistenceProvider(),
        queue_service if queue_service is not None else SingleNodeQueueProvider(),
        lock_service if lock_service is not None else LocalLockProvider(),
        HostOptions.from_keywords(**options),
    )
