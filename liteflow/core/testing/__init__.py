"""Tools for tests: `FakeClock` and `WorkflowTest` for testing workflows, and conformance
suites for provider authors.

Subclass one in a test module (name the subclass ``Test...``) and implement its factory
methods; pytest (or any runner that collects ``test_*`` methods) then runs every contract
check against your provider::

    from liteflow.core.testing import PersistenceProviderConformance

    class TestMyStore(PersistenceProviderConformance):
        def create_provider(self):
            return MyStore(...)
"""

from .clock import FakeClock
from .lifecycle import LifecycleEventHubConformance
from .lock import LeasedLockConformance, LockProviderConformance
from .persistence import PersistenceProviderConformance
from .queue import QueueProviderConformance
from .workflow_test import WorkflowTest

__all__ = [
    "FakeClock",
    "LeasedLockConformance",
    "LifecycleEventHubConformance",
    "LockProviderConformance",
    "PersistenceProviderConformance",
    "QueueProviderConformance",
    "WorkflowTest",
]
