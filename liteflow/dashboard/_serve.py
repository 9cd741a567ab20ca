"""``liteflow dashboard``: serve the dashboard with Uvicorn until interrupted."""

from __future__ import annotations

import argparse
import ipaddress
from typing import TextIO

import uvicorn

from liteflow.operate import Operator

from . import create_app

__all__ = ["actions_off", "serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def actions_off(host: str, token: str | None, read_only: bool) -> bool | str:
    """Whether the dashboard bound to `host` refuses actions (text: why). Off the loopback
    address actions need a token: without one, it is read-only."""
    if not read_only and token is None and not _is_loopback(host):
        return f"on {host} they need a token: start with --token or LITEFLOW_DASHBOARD_TOKEN"
    return read_only


def serve(args: argparse.Namespace, out: TextIO) -> int:
    read_only = actions_off(args.host, args.token, bool(args.read_only))
    if isinstance(read_only, str):
        out.write(f"liteflow: actions are off: {read_only}\n")
    with Operator.open(args.store, args.app) as operator:
        app = create_app(operator, token=args.token, read_only=read_only)
        out.write(f"liteflow dashboard on http://{args.host}:{args.port}/ (Ctrl-C to stop)\n")
        out.flush()
        # Open pages keep a live-update stream each: stopping does not wait for them long.
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=2)
    return 0
