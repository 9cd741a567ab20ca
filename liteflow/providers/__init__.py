"""The original's provider package paths: ``liteflow.providers.mongo`` and ``liteflow.providers.azure``.

Each gives the classes of the provider package that replaced it (`liteflow_mongo`,
`liteflow_azure`), installed with the same-named extra.
"""

from __future__ import annotations

__all__: list[str] = []
