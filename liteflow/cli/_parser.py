"""The command line's grammar: ``liteflow [--store URL] [--app M:A] [--json] COMMAND [ARGS]``."""

from __future__ import annotations

import argparse
import getpass
import os

__all__ = ["build_parser"]

_EPILOG = """exit codes: 0 done; 1 the store or the application failed; 2 bad usage or arguments;
3 no such instance or event; 4 refused (the action makes no sense in the instance's state, or
changed nothing); 5 `stuck` found something."""


def _default_actor() -> str | None:
    try:
        return os.environ.get("LITEFLOW_ACTOR") or getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liteflow",
        description="Find, inspect and repair LiteFlow workflows in a store.",
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        default=os.environ.get("LITEFLOW_STORE"),
        help="the store: sqlite:///path.db, mongodb://host:port/database (default: $LITEFLOW_STORE)",
    )
    parser.add_argument(
        "--app",
        metavar="M:A",
        help="the application's WorkflowHost (or a function returning it) as module:attribute: its "
        "definitions give step names and graphs, its queue and locks make actions take effect at once",
    )
    json_option = argparse.ArgumentParser(add_help=False)
    json_option.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    parser.add_argument("--json", action="store_true", help="print JSON (also accepted after the command)")
    actor = argparse.ArgumentParser(add_help=False)
    actor.add_argument(
        "--actor",
        default=_default_actor(),
        help="who does it, noted in the history (default: $LITEFLOW_ACTOR or your login)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=help_text, description=help_text, parents=[json_option, *parents]
        )

    listing = command("list", "list instances, newest first")
    listing.add_argument("--status", help="runnable, suspended, complete or terminated")
    listing.add_argument("--definition", metavar="ID", help="a workflow definition id")
    listing.add_argument("--reference", help="the reference given to start_workflow")
    listing.add_argument(
        "--since", metavar="T", help="created at or after T: ISO 8601, or a duration ago (2h)"
    )
    listing.add_argument("--until", metavar="T", help="created at or before T")
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    listing.add_argument("--oldest-first", action="store_true", help="oldest first")

    command("show", "an instance: data, steps, subscriptions, errors, history").add_argument("id")
    for name, text in (
        ("suspend", "pause a runnable instance"),
        ("resume", "make a suspended instance runnable again"),
        ("terminate", "end a runnable or suspended instance for good"),
    ):
        command(name, text, actor).add_argument("id")
    retry = command("retry", "run a suspended or terminated instance again", actor)
    retry.add_argument("id")
    retry.add_argument(
        "--from-step", metavar="S", help="restart at this step (id or name), not at the failed one"
    )
    skip = command("skip", "mark a failed step complete and move on", actor)
    skip.add_argument("id")
    skip.add_argument("--step", required=True, metavar="S", help="the failed step (id or name)")
    fork = command("fork", "start a new instance at a step with this one's data; prints its id", actor)
    fork.add_argument("id")
    fork.add_argument("--from-step", required=True, metavar="S", help="the step to start at (id or name)")

    publish = command("publish", "publish an event")
    publish.add_argument("name")
    publish.add_argument("key")
    publish.add_argument("--data", metavar="JSON", help="the event's data, as JSON")
    purge = command("purge", "delete finished instances with their errors and subscriptions")
    purge.add_argument("--status", required=True, help="complete or terminated (or another status)")
    purge.add_argument(
        "--older-than", required=True, metavar="DURATION", help="finished before this long ago (30d)"
    )
    stuck = command(
        "stuck", "overdue runnable instances, old unprocessed events, suspended instances with errors"
    )
    stuck.add_argument("--threshold", metavar="DURATION", help="how late counts (default: 3 poll intervals)")
    stuck.add_argument("--limit", type=int, default=50, metavar="N", help="at most N of each (default 50)")
    command("definitions", "the application's registered workflow definitions (needs --app)")

    dashboard = command("dashboard", "serve the web dashboard")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    dashboard.add_argument(
        "--token",
        default=os.environ.get("LITEFLOW_DASHBOARD_TOKEN"),
        help="secret the actions need (default: $LITEFLOW_DASHBOARD_TOKEN); required off 127.0.0.1",
    )
    dashboard.add_argument("--read-only", action="store_true", help="no actions at all")
    return parser
