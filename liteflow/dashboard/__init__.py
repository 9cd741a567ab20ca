"""The web dashboard: instances, their steps drawn on the workflow's graph, repair actions.

``liteflow --store URL [--app M:A] dashboard`` serves it (with Uvicorn, the ``dashboard``
extra); `create_app` gives the ASGI application to mount in an application of your own::

    from starlette.routing import Mount
    routes = [Mount("/liteflow", app=create_app(host, token=os.environ["LITEFLOW_DASHBOARD_TOKEN"]))]

Never imported by the core.
"""

from __future__ import annotations

from liteflow.core.configure import configure_workflow_host
from liteflow.core.errors import InvalidArgumentError
from liteflow.core.host import WorkflowHost
from liteflow.core.providers import PersistenceProvider
from liteflow.operate import Operator

from ._app import DashboardApp

__all__ = ["DashboardApp", "create_app"]


def create_app(
    store_or_host: WorkflowHost | PersistenceProvider | Operator,
    *,
    token: str | None = None,
    read_only: bool | str = False,
    poll_interval: float = 1.0,
) -> DashboardApp:
    """The dashboard of a host (its store, definitions and actions) or of a store alone.

    With `token`, actions need it (a sign-in page sets a cookie; scripts send
    ``Authorization: Bearer TOKEN``); `read_only` refuses every action (text says why, on
    every page). Pages watch what they
    show every `poll_interval` seconds, and at once on the lifecycle events of a running host.
    """
    if isinstance(store_or_host, Operator):
        operator = store_or_host
    elif isinstance(store_or_host, WorkflowHost):
        operator = Operator(store_or_host)
    elif isinstance(store_or_host, PersistenceProvider):
        operator = Operator(configure_workflow_host(store_or_host))
    else:
        raise InvalidArgumentError(
            f"create_app() needs a WorkflowHost or a PersistenceProvider, got {type(store_or_host).__name__}"
        )
    if token is not None and (not isinstance(token, str) or len(token) < 8):
        raise InvalidArgumentError("create_app() token must be text of at least 8 characters")
    if not poll_interval > 0:
        raise InvalidArgumentError(f"create_app() poll_interval must be positive, got {poll_interval!r}")
    why = read_only if isinstance(read_only, str) else ""
    return DashboardApp(
        operator, token=token, read_only=bool(read_only), why_read_only=why, poll_interval=poll_interval
    )
