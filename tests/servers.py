"""Reachability of the real servers the integration tests talk to.

One policy for every provider test: in CI (``CI`` set) an unreachable server is a failure,
because a silently skipped suite proves nothing; on a developer's machine it is a skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

__all__ = ["require_server"]


def require_server(name: str, env_var: str, default: str, probe: Callable[[str], None]) -> str:
    """Return the address of server `name` (from `env_var`, else `default`) once `probe` accepts it."""
    address = os.environ.get(env_var) or default
    try:
        probe(address)
    except Exception as error:
        message = f"{name} not reachable at {address}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return address
