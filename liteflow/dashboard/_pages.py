"""The dashboard's pages as HTML. Every value that comes from a store or a definition (data,
references, step names, error messages...) goes through `e` (HTML escaping): nothing stored
can add markup, let alone script, to a page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

from liteflow.core.definition import WorkflowDefinition
from liteflow.core.records import WorkflowInstance
from liteflow.operate import STATUS_NAMES

from ._graph import STATE_ORDER, draw

__all__ = [
    "PAGE_SIZE",
    "Page",
    "definition_page",
    "definitions_page",
    "instance_page",
    "list_page",
    "login_page",
    "message_page",
]

#: Instances on one page of the list.
PAGE_SIZE = 50
#: Shown for a time or value that is not there.
NONE = "-"


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _time(text: str | None) -> str:
    return NONE if not text else e(text[:19].replace("T", " "))


@dataclass
class Page:
    """What every page shares: where it is mounted, its form secret, and whether actions run."""

    root: str
    csrf: str
    actions: bool
    #: Why actions are off, shown in the header ("" when they are on).
    why_read_only: str = ""

    def link(self, path: str, **query: Any) -> str:
        shown = {name: value for name, value in query.items() if value not in (None, "")}
        return e(f"{self.root}{path}" + (f"?{urlencode(shown)}" if shown else ""))

    def layout(self, title: str, body: str, watch: str = "") -> str:
        mode = ""
        if not self.actions:
            mode = f'<span class="mode" title="{e(self.why_read_only)}">read-only</span>'
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)} · LiteFlow</title>"
            f'<link rel="stylesheet" href="{self.link("/static/style.css")}">'
            f'<script src="{self.link("/static/app.js")}" defer></script></head>'
            f'<body data-watch="{e(watch)}" data-events="{self.link("/events")}">'
            f'<header><a class="brand" href="{self.link("/instances")}">LiteFlow</a><nav>'
            f'<a href="{self.link("/instances")}">Instances</a>'
            f'<a href="{self.link("/definitions")}">Definitions</a></nav>{mode}</header>'
            f"<main>{body}</main></body></html>"
        )

    def form(self, action: str, label: str, confirm: str, fields: str = "", danger: bool = False) -> str:
        kind = ' class="danger"' if danger else ""
        return (
            f'<form method="post" action="{e(action)}" data-confirm="{e(confirm)}">'
            f'<input type="hidden" name="csrf" value="{e(self.csrf)}">{fields}'
            f'<button type="submit"{kind} name="do" value="{e(label.lower())}">{e(label)}</button></form>'
        )


def _badge(status: str) -> str:
    return f'<span class="badge status-{e(status)}">{e(status)}</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _json(value: Any) -> str:
    return f'<pre class="json">{e(json.dumps(value, indent=2, ensure_ascii=False))}</pre>'


def _input(label: str, name: str, value: str | None, extra: str = "") -> str:
    return f'<label>{e(label)} <input name="{e(name)}" value="{e(value)}"{extra}></label>'


def list_page(
    page: Page,
    summaries: list[dict[str, Any]],
    filters: dict[str, str],
    offset: int,
    more: bool,
    definitions: list[str],
) -> str:
    options = "".join(
        f'<option value="{e(name)}"{" selected" if filters.get("status") == name else ""}>{e(name)}</option>'
        for name in ("", *STATUS_NAMES.values())
    )
    known = "".join(f'<option value="{e(name)}">' for name in definitions)
    form = (
        f'<form class="filters" method="get" action="{page.link("/instances")}">'
        f'<label>status <select name="status">{options}</select></label>'
        + _input("definition", "definition", filters.get("definition"), ' list="definitions"')
        + f'<datalist id="definitions">{known}</datalist>'
        + _input("reference", "reference", filters.get("reference"))
        + _input("since", "since", filters.get("since"), ' placeholder="2h, 7d or 2026-05-01"')
        + '<button type="submit">Filter</button></form>'
    )
    rows = [
        [
            f'<a class="instance" href="{page.link("/instances/" + s["id"])}">{e(s["id"])}</a>',
            f'{e(s["definition"])} <span class="version">v{e(s["version"])}</span>',
            _badge(s["status"]),
            e(s["reference"]),
            _time(s["create_time"]),
            _time(s["complete_time"]),
        ]
        for s in summaries
    ]
    headers = ["instance", "definition", "status", "reference", "created", "finished"]
    pager = []
    if offset:
        newer = page.link("/instances", **filters, offset=max(offset - PAGE_SIZE, 0))
        pager.append(f'<a rel="prev" href="{newer}">← newer</a>')
    if more:
        older = page.link("/instances", **filters, offset=offset + PAGE_SIZE)
        pager.append(f'<a rel="next" href="{older}">older →</a>')
    body = (
        f"<h1>Instances</h1>{form}{_table(headers, rows, 'No instance matches.')}"
        f'<nav class="pager">{"".join(pager)}</nav>'
    )
    return page.layout("Instances", body, urlencode({"watch": "list", **filters, "offset": offset}))


def _step_details(step: dict[str, Any]) -> str:
    extra = []
    if step["item"] is not None:
        extra.append(f"item <code>{e(json.dumps(step['item'], ensure_ascii=False)[:80])}</code>")
    if step["attempts"]:
        extra.append(f"attempts {e(step['attempts'])}")
    if step["outcome"] is not None:
        extra.append(f"outcome <code>{e(json.dumps(step['outcome'], ensure_ascii=False)[:80])}</code>")
    if step["waiting_for"]:
        extra.append(f"waits for {e(step['waiting_for'])}")
    return " · ".join(extra)


def _archived_note(view: dict[str, Any]) -> str:
    """Long workflows move finished steps to their history: say how many are shown from it."""
    archived = view["archived_steps"]
    if not archived:
        return ""
    more = ", the oldest ones (there are more)" if view["more_archived_steps"] else ""
    return f'<p class="note">{archived} finished steps from the instance\'s history{more}.</p>'


def _steps_tree(steps: list[dict[str, Any]]) -> str:
    if not steps:
        return ""
    items = [
        f'<li data-pointer="{e(step["pointer_id"])}"><span class="step-name">{e(step["step"])}</span> '
        f'{_badge(step["status"])} <span class="times">{_time(step["start_time"])} → '
        f'{_time(step["end_time"])}</span> <span class="extra">{_step_details(step)}</span>'
        f"{_steps_tree(step['children'])}</li>"
        for step in steps
    ]
    return f'<ul class="tree">{"".join(items)}</ul>'


def _step_choices(
    view: dict[str, Any], failed_only: bool = False, top_only: bool = False
) -> list[tuple[int, str]]:
    seen: dict[int, str] = {}

    def walk(steps: list[dict[str, Any]], top: bool) -> None:
        for step in steps:
            if (not failed_only or step["status"] == "failed") and (not top_only or top):
                seen.setdefault(step["step_id"], step["step"])
            walk(step["children"], False)

    walk(view["steps"], True)
    return sorted(seen.items())


def _select(name: str, choices: list[tuple[int, str]], optional: str = "") -> str:
    options = f'<option value="">{e(optional)}</option>' if optional else ""
    options += "".join(f'<option value="{number}">{number}: {e(label)}</option>' for number, label in choices)
    return f'<select name="{e(name)}" aria-label="{e(name)}">{options}</select>'


def _actions(page: Page, view: dict[str, Any]) -> str:
    if not page.actions:
        return f'<p class="read-only">Actions are off: {e(page.why_read_only)}</p>'
    base = f"{page.root}/instances/{view['id']}"
    actor = '<input name="actor" placeholder="your name" aria-label="actor" maxlength="200">'
    status, name = view["status"], f"workflow {view['id']}"
    forms = []
    if status == "runnable":
        forms.append(page.form(f"{base}/suspend", "Suspend", f"Suspend {name}?", actor))
    if status == "suspended":
        forms.append(page.form(f"{base}/resume", "Resume", f"Resume {name}?", actor))
    if status in ("suspended", "terminated"):
        steps = _select("step", _step_choices(view), "its failed steps")
        forms.append(page.form(f"{base}/retry", "Retry", f"Retry {name}?", steps + actor))
    failed = _step_choices(view, failed_only=True)
    if failed and status != "complete":
        skip = f"Skip the failed step of {name}?"
        forms.append(page.form(f"{base}/skip", "Skip", skip, _select("step", failed) + actor))
    top = _step_choices(view, top_only=True)
    if top:
        fork = f"Start a new instance from {name}?"
        forms.append(page.form(f"{base}/fork", "Fork", fork, _select("step", top) + actor))
    if status in ("runnable", "suspended"):
        end = f"Terminate {name} for good?"
        forms.append(page.form(f"{base}/terminate", "Terminate", end, actor, danger=True))
    return f'<div class="actions">{"".join(forms)}</div>'


def _flash(flash: dict[str, str]) -> str:
    if flash.get("error"):
        return f'<p class="flash error" role="alert">{e(flash["error"])}</p>'
    if flash.get("done"):
        return f'<p class="flash done" role="status">{e(flash["done"])}</p>'
    return ""


def _meta(page: Page, view: dict[str, Any]) -> str:
    definition = page.link(f"/definitions/{view['definition']}/{view['version']}")
    parent = view["parent_workflow_id"]
    parent_link = f'<a href="{page.link("/instances/" + parent)}">{e(parent)}</a>' if parent else NONE
    row = [
        f'<a href="{definition}">{e(view["definition"])} v{e(view["version"])}</a>',
        e(view["reference"]),
        _time(view["create_time"]),
        _time(view["complete_time"]),
        _time(view["next_execution"]),
        parent_link,
    ]
    return _table(["definition", "reference", "created", "finished", "next run", "parent"], [row], "")


def _errors(view: dict[str, Any]) -> str:
    shown = [
        f'<details class="error"><summary>{_time(error["time"])} · step {e(error["step_id"])} · '
        f"{e(error['message'])}</summary><pre>{e(error['traceback'] or '(no traceback recorded)')}</pre>"
        "</details>"
        for error in view["errors"]
    ]
    return "".join(shown) or '<p class="empty">No error recorded.</p>'


def _legend() -> str:
    swatches = "".join(
        f'<span class="swatch state-{state}">{state}</span>' for state in (*STATE_ORDER, "none")
    )
    return f'<p class="legend">{swatches}</p>'


def instance_page(
    page: Page,
    view: dict[str, Any],
    definition: WorkflowDefinition | None,
    instance: WorkflowInstance,
    flash: dict[str, str],
) -> str:
    graph = (
        f'<section class="graph-box"><h2>Workflow</h2>{_legend()}{draw(definition, instance)}</section>'
        if definition is not None
        else '<p class="note">The definition is not known here: give the application (--app) to see '
        "its graph.</p>"
    )
    history = _table(
        ["time", "action", "actor", "detail"],
        [[_time(a["time"]), e(a["action"]), e(a["actor"]), e(a["detail"])] for a in view["actions"]],
        "No action yet.",
    )
    subscriptions = _table(
        ["event", "key", "as of", "step"],
        [
            [e(s["event_name"]), e(s["event_key"]), _time(s["subscribe_as_of"]), e(s["step_id"])]
            for s in view["subscriptions"]
        ],
        "No subscription.",
    )
    body = (
        f'<h1>Instance <span class="id">{e(view["id"])}</span> {_badge(view["status"])}</h1>'
        f"{_flash(flash)}{_meta(page, view)}{_actions(page, view)}{graph}"
        f"<section><h2>Steps</h2>{_archived_note(view)}{_steps_tree(view['steps'])}</section>"
        f"<section><h2>Data</h2>{_json(view['data'])}</section>"
        f"<section><h2>Errors</h2>{_errors(view)}</section>"
        f"<section><h2>History</h2>{history}</section>"
        f"<section><h2>Subscriptions</h2>{subscriptions}</section>"
    )
    return page.layout(f"Instance {view['id']}", body, urlencode({"watch": view["id"]}))


def definitions_page(page: Page, definitions: list[WorkflowDefinition]) -> str:
    if not definitions:
        body = '<p class="empty">No definition is known here: give the application (--app).</p>'
    else:
        body = "".join(
            f'<section><h2><a href="{page.link(f"/definitions/{d.id}/{d.version}")}">'
            f"{e(d.id)} v{e(d.version)}</a></h2><p>{e(d.description)}</p>{draw(d)}</section>"
            for d in definitions
        )
    return page.layout("Definitions", f"<h1>Definitions</h1>{body}")


def definition_page(page: Page, definition: WorkflowDefinition) -> str:
    title = f"<h1>{e(definition.id)} v{e(definition.version)}</h1>"
    body = f"{title}<p>{e(definition.description)}</p>{_legend()}{draw(definition)}"
    return page.layout(f"{definition.id} v{definition.version}", body)


def login_page(page: Page, failed: bool) -> str:
    wrong = '<p class="flash error" role="alert">That token is not the right one.</p>' if failed else ""
    body = (
        f"<h1>Sign in</h1>{wrong}<p>Actions on this dashboard need its token.</p>"
        f'<form method="post" action="{page.link("/login")}">'
        f'<input type="hidden" name="csrf" value="{e(page.csrf)}">'
        '<label>token <input type="password" name="token" autocomplete="current-password"></label>'
        '<button type="submit">Sign in</button></form>'
    )
    return page.layout("Sign in", body)


def message_page(page: Page, title: str, message: str) -> str:
    return page.layout(title, f"<h1>{e(title)}</h1><p>{e(message)}</p>")
