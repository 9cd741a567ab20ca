"""``liteflow dashboard``: serve the dashboard with Uvicorn until interrupted."""

from __future__ import annotations

import argparse
import ipaddress
from typing import TextIO

import uvicorn

from liteflow.operate import Operator

from . import create_app

__all__ = ["serve"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace, out: TextIO) -> int:
    """Off the loopback address, actions need a token: without one, the dashboard is read-only."""
    read_only: bool | str = bool(args.read_only)
    if not read_only and args.token is None and not _is_loopback(args.host):
        read_only = f"on {args.host} they need a token: start with --token or LITEFLOW_DASHBOARD_TOKEN"
        out.write(f"liteflow: actions are off: {read_only}\n")
    with Operator.open(args.store, args.app) as operator:
        app = create_app(operator, token=args.token, read_only=read_only)
        out.write(f"liteflow dashboard on http://{args.host}:{args.port}/ (Ctrl-C to stop)\n")
        out.flush()
        # Open pages keep a live-update stream each: stopping does not wait for them long.
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=2)
    return 0
