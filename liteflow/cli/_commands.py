"""The commands: each reads its arguments, does its work through an `Operator`, and prints
a table (or JSON with ``--json``); the exit code says how it went."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TextIO

from liteflow.core.queries import WorkflowQuery
from liteflow.operate import (
    Operator,
    StuckReport,
    iso,
    parse_duration,
    parse_json,
    parse_status,
    parse_time,
    shown,
    summary_view,
)

from ._tables import print_instance, print_table, short_time

__all__ = ["COMMANDS", "EXIT_FOUND", "EXIT_OK", "EXIT_REFUSED"]

EXIT_OK = 0
#: The action made no sense in the instance's state, or changed nothing.
EXIT_REFUSED = 4
#: `stuck` found something.
EXIT_FOUND = 5

Command = Callable[[Operator, argparse.Namespace, TextIO], int]


def _emit(out: TextIO, args: argparse.Namespace, document: Any, human: Callable[[], object]) -> None:
    if args.json:
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        human()


def list_instances(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    now = operator.now()
    query = WorkflowQuery(
        status=None if args.status is None else parse_status(args.status),
        definition_id=args.definition,
        reference=args.reference,
        created_from=None if args.since is None else parse_time(args.since, now),
        created_to=None if args.until is None else parse_time(args.until, now),
        newest_first=not args.oldest_first,
        take=args.limit,
    )
    views = [summary_view(summary) for summary in operator.find(query)]
    rows = [
        [v["id"], v["definition"], v["version"], v["status"], v["reference"], short_time(v["create_time"])]
        for v in views
    ]
    headers = ["id", "definition", "version", "status", "reference", "created"]
    _emit(out, args, views, lambda: print_table(out, headers, rows))
    return EXIT_OK


def show(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    view = operator.view(operator.instance(args.id))
    _emit(out, args, view, lambda: print_instance(out, view))
    return EXIT_OK


def _acted(operator: Operator, args: argparse.Namespace, out: TextIO, changed: bool, **extra: Any) -> int:
    status = summary_view(operator.instance(args.id))["status"]
    document = {"workflow_id": args.id, "action": args.command, "changed": changed, "status": status, **extra}

    def human() -> None:
        if not changed:
            out.write(f"{args.id}: not changed, it is {status}\n")
        else:
            forked = f"; new instance {extra['forked_id']}" if "forked_id" in extra else ""
            out.write(f"{args.id}: {args.command} done, now {status}{forked}\n")

    _emit(out, args, document, human)
    return EXIT_OK if changed else EXIT_REFUSED


def _status_command(name: str) -> Command:
    def run(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
        action = getattr(operator.host, f"{name}_workflow")
        return _acted(operator, args, out, bool(action(args.id, actor=args.actor)))

    return run


def retry(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    operator.host.retry_workflow(args.id, args.from_step, actor=args.actor)
    return _acted(operator, args, out, True)


def skip(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    operator.host.skip_step(args.id, args.step, actor=args.actor)
    return _acted(operator, args, out, True)


def fork(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    forked_id = operator.host.fork_workflow(args.id, args.from_step, actor=args.actor)
    if args.json:
        return _acted(operator, args, out, True, forked_id=forked_id)
    out.write(f"{forked_id}\n")  # alone on its line, for scripts: new=$(liteflow fork ...)
    return EXIT_OK


def publish(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    data = None if args.data is None else parse_json(args.data, "--data")
    event_id = operator.publish(args.name, args.key, data)
    _emit(out, args, {"event_id": event_id}, lambda: out.write(f"{event_id}\n"))
    return EXIT_OK


def purge(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    status = parse_status(args.status)
    purged = operator.purge(status, parse_duration(args.older_than))
    _emit(out, args, {"purged": purged}, lambda: out.write(f"purged {purged} instance(s)\n"))
    return EXIT_OK


def _stuck_document(report: StuckReport) -> dict[str, Any]:
    return {
        "overdue": [summary_view(summary) for summary in report.overdue],
        "events": [
            {
                "id": event.id,
                "name": event.event_name,
                "key": event.event_key,
                "time": iso(event.event_time),
                "data": shown(event.event_data),
            }
            for event in report.events
        ],
        "suspended_with_errors": [
            {**summary_view(summary), "last_error": message} for summary, message in report.failed
        ],
    }


def stuck(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    threshold = None if args.threshold is None else parse_duration(args.threshold)
    report = operator.stuck(threshold, args.limit)
    document = _stuck_document(report)

    def human() -> None:
        if report.empty:
            out.write("nothing stuck\n")
            return
        sections = (
            ("runnable but overdue", ["id", "definition", "next run"], [
                [v["id"], v["definition"], short_time(v["next_execution"])] for v in document["overdue"]
            ]),
            ("events not processed", ["id", "name", "key", "time"], [
                [e["id"], e["name"], e["key"], short_time(e["time"])] for e in document["events"]
            ]),
            ("suspended with errors", ["id", "definition", "last error"], [
                [v["id"], v["definition"], v["last_error"]] for v in document["suspended_with_errors"]
            ]),
        )  # fmt: skip
        for title, headers, rows in sections:
            if rows:
                out.write(f"{title}:\n")
                print_table(out, headers, rows)

    _emit(out, args, document, human)
    return EXIT_OK if report.empty else EXIT_FOUND


def definitions(operator: Operator, args: argparse.Namespace, out: TextIO) -> int:
    found = [
        {"id": d.id, "version": d.version, "steps": len(d.steps), "description": d.description}
        for d in operator.definitions()
    ]
    rows = [[d["id"], d["version"], d["steps"], d["description"]] for d in found]
    _emit(out, args, found, lambda: print_table(out, ["id", "version", "steps", "description"], rows))
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "list": list_instances,
    "show": show,
    "suspend": _status_command("suspend"),
    "resume": _status_command("resume"),
    "terminate": _status_command("terminate"),
    "retry": retry,
    "skip": skip,
    "fork": fork,
    "publish": publish,
    "purge": purge,
    "stuck": stuck,
    "definitions": definitions,
}
