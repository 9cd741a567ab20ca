"""The original's ``liteflow.providers.azure``: `liteflow_azure`'s providers (the ``azure`` extra).

They take a connection string, or an account object as the original did (see
`liteflow_azure.StorageAccount`).
"""

from __future__ import annotations

from ._extras import missing_extra

try:
    from liteflow_azure import AzureLockProvider, AzureQueueProvider
except ModuleNotFoundError as error:
    raise missing_extra(__name__, "azure", error) from error

__all__ = ["AzureQueueProvider", "AzureLockProvider"]
