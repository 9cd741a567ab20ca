"""The conformance suites over the built-in single-node providers."""

from __future__ import annotations

from liteflow.core import LocalLockProvider, MemoryPersistenceProvider, SingleNodeQueueProvider
from liteflow.core.providers import LockProvider, PersistenceProvider, QueueProvider
from liteflow.core.testing import (
    LockProviderConformance,
    PersistenceProviderConformance,
    QueueProviderConformance,
)


class TestMemoryPersistence(PersistenceProviderConformance):
    def create_provider(self) -> PersistenceProvider:
        return MemoryPersistenceProvider()


class TestSingleNodeQueue(QueueProviderConformance):
    max_empty_dequeue_seconds = 1.5

    def create_provider(self) -> QueueProvider:
        return SingleNodeQueueProvider(dequeue_timeout=0.2)


class TestLocalLock(LockProviderConformance):
    def create_provider(self) -> LockProvider:
        return LocalLockProvider()
