"""LiteFlow's Azure Storage providers: work queues on Azure queues, locks on blob leases.

Install with the ``azure`` extra; pass them as ``queue_service`` and ``lock_service`` to
``configure_workflow_host`` so several nodes share the work and never run one workflow at once.
"""

from __future__ import annotations

from .account import StorageAccount
from .lock import AzureLockProvider, blob_name
from .queue import AzureQueueProvider

__all__ = ["AzureLockProvider", "AzureQueueProvider", "StorageAccount", "blob_name"]
