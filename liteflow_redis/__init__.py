"""LiteFlow's Redis lock provider: Redlock over one or more independent Redis servers.

Install with the ``redis`` extra; pass a `RedlockProvider` as ``lock_service`` to
``configure_workflow_host`` so several nodes never run the same workflow at once.
"""

from __future__ import annotations

from .lifecycle import RedisLifecycleEventHub
from .redlock import RedlockProvider

__all__ = ["RedisLifecycleEventHub", "RedlockProvider"]
