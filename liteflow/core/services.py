"""The original's ``liteflow.core.services``: the built-in providers and the host, re-exported.

The original also listed its engine's parts (executor, registry, consumers, poller); user code
never built those, and ``configure_workflow_host`` assembles this engine's own, so they are not
offered here.
"""

from __future__ import annotations

from .host import WorkflowHost
from .local import LocalLockProvider, LocalQueueProvider
from .memory import MemoryPersistenceProvider

__all__ = ["MemoryPersistenceProvider", "LocalLockProvider", "LocalQueueProvider", "WorkflowHost"]
