"""The dashboard as an ASGI application: pages, actions, live updates.

Safety: actions are POSTs carrying this process's form secret (a page of another site cannot
read it) from the same origin; with a token, they also need it (signed in once, kept in an
HttpOnly, SameSite=Strict cookie, or sent as ``Authorization: Bearer``); read-only refuses
them all. Pages escape every stored value and forbid any script but the dashboard's own.
Store calls run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

from liteflow.core.errors import InvalidArgumentError, LiteFlowError, WorkflowNotFoundError
from liteflow.core.lifecycle import LifecycleEvent
from liteflow.core.queries import WorkflowQuery
from liteflow.operate import Operator, parse_status, parse_time, summary_view

from ._asgi import Receive, Request, Response, Scope, Send, read_request
from ._pages import (
    PAGE_SIZE,
    Page,
    definition_page,
    definitions_page,
    instance_page,
    list_page,
    login_page,
    message_page,
)

__all__ = ["DashboardApp"]

_COOKIE = "liteflow_dashboard"
_ACTIONS = ("suspend", "resume", "terminate", "retry", "skip", "fork")
_STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
_INSTANCE = re.compile(r"^/instances/([^/]+)$")
_ACTION = re.compile(rf"^/instances/([^/]+)/({'|'.join(_ACTIONS)})$")
_DEFINITION = re.compile(r"^/definitions/([^/]+)/(\d+)$")
#: Seconds between heartbeats of a live-update stream that has nothing to tell.
_HEARTBEAT = 15.0


def _session_of(token: str) -> str:
    """What the sign-in cookie holds: derived from the token, so the cookie does not carry it."""
    return hmac.new(token.encode(), b"liteflow-dashboard", hashlib.sha256).hexdigest()


class _Wakers:
    """Asyncio events to set, from any thread, when a lifecycle event says something changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def add(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> Callable[[], None]:
        with self._lock:
            self._waiting.add(entry)
        return lambda: self._discard(entry)

    def _discard(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._waiting.discard(entry)

    def wake(self, _event: LifecycleEvent) -> None:
        with self._lock:
            waiting = list(self._waiting)
        for loop, event in waiting:
            loop.call_soon_threadsafe(event.set)


class DashboardApp:
    """See `liteflow.dashboard.create_app`."""

    def __init__(
        self,
        operator: Operator,
        *,
        token: str | None = None,
        read_only: bool = False,
        why_read_only: str = "",
        poll_interval: float = 1.0,
    ) -> None:
        self.operator = operator
        self._session = None if token is None else _session_of(token)
        self._csrf = secrets.token_urlsafe(32)
        self._actions = not read_only
        self._why_read_only = why_read_only or ("the dashboard was started read-only" if read_only else "")
        self._poll_interval = poll_interval
        self._wakers = _Wakers()
        if operator.host.is_running:  # changes are told as they happen, not only found by polling
            operator.host.on_lifecycle_event(self._wakers.wake)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        if request.path == "/events" and request.method == "GET":
            await self._events(request, receive, send)
            return
        try:
            response = await self._route(request)
        except WorkflowNotFoundError as exc:
            response = Response.html(message_page(self._page(request), "Not found", str(exc)), 404)
        await response.send(send)

    def _page(self, request: Request) -> Page:
        return Page(request.root, self._csrf, self._actions, self._why_read_only)

    async def _route(self, request: Request) -> Response:
        path, method, page = request.path, request.method, self._page(request)
        if method == "GET":
            if path == "/":
                return Response.redirect(f"{request.root}/instances")
            if path == "/instances":
                return await self._list(request, page)
            if found := _INSTANCE.match(path):
                return await self._instance(request, page, found.group(1))
            if path == "/definitions":
                return Response.html(definitions_page(page, self.operator.definitions()))
            if found := _DEFINITION.match(path):
                return self._definition(page, found.group(1), int(found.group(2)))
            if path == "/login":
                return Response.html(login_page(page, failed=False))
            if path.startswith("/static/") and path[8:] in _STATIC:
                text = (resources.files(__package__) / "static" / path[8:]).read_bytes()
                return Response(200, text, _STATIC[path[8:]])
        elif method == "POST":
            if found := _ACTION.match(path):
                return await self._act(request, page, found.group(1), found.group(2))
            if path == "/login":
                return self._login(request, page)
        return Response.html(message_page(page, "Not found", f"Nothing is at {path}."), 404)

    # ------------------------------------------------------------------ pages

    async def _list(self, request: Request, page: Page) -> Response:
        filters = {
            name: request.query.get(name, "").strip()
            for name in ("status", "definition", "reference", "since")
        }
        offset = int(request.query["offset"]) if request.query.get("offset", "").isdigit() else 0
        operator = self.operator
        try:
            query = WorkflowQuery(
                status=parse_status(filters["status"]) if filters["status"] else None,
                definition_id=filters["definition"] or None,
                reference=filters["reference"] or None,
                created_from=parse_time(filters["since"], operator.now()) if filters["since"] else None,
                skip=offset,
                take=PAGE_SIZE + 1,
            )
        except InvalidArgumentError as exc:
            return Response.html(message_page(page, "Bad filter", str(exc)), 400)
        found = await asyncio.to_thread(operator.find, query)
        summaries = [summary_view(summary) for summary in found[:PAGE_SIZE]]
        names = sorted({definition.id for definition in operator.definitions()})
        return Response.html(list_page(page, summaries, filters, offset, len(found) > PAGE_SIZE, names))

    def _view(self, workflow_id: str) -> tuple[dict[str, Any], Any, Any]:
        operator = self.operator
        instance = operator.instance(workflow_id)
        return operator.view(instance), operator.definition_of(instance), instance

    async def _instance(self, request: Request, page: Page, workflow_id: str) -> Response:
        view, definition, instance = await asyncio.to_thread(self._view, workflow_id)
        flash = {name: request.query[name] for name in ("done", "error") if request.query.get(name)}
        return Response.html(instance_page(page, view, definition, instance, flash))

    def _definition(self, page: Page, definition_id: str, version: int) -> Response:
        registry = self.operator.host.registry
        if not registry.is_registered(definition_id, version):
            raise WorkflowNotFoundError(f"no definition {definition_id} v{version} is known here")
        return Response.html(definition_page(page, registry.get_definition(definition_id, version)))

    # ------------------------------------------------------------------ actions

    def _signed_in(self, request: Request) -> bool:
        if self._session is None:
            return True
        expected = self._session
        bearer = request.headers.get("authorization", "")
        given = request.cookies.get(_COOKIE, "")
        if bearer.lower().startswith("bearer ") and hmac.compare_digest(
            _session_of(bearer[7:].strip()), expected
        ):
            return True
        return hmac.compare_digest(given, expected)

    def _forged(self, request: Request) -> str | None:
        """Why a POST did not come from one of this dashboard's own pages, if it did not."""
        if not hmac.compare_digest(request.form.get("csrf", ""), self._csrf):
            return "the form is stale or did not come from this dashboard: reload the page and try again"
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return "the request came from another site"
        if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return "the request came from another site"
        return None

    async def _act(self, request: Request, page: Page, workflow_id: str, action: str) -> Response:
        if not self._actions:
            return Response.html(
                message_page(page, "Read-only", f"Actions are off: {self._why_read_only}"), 403
            )
        forged = self._forged(request)
        if forged is not None:
            return Response.html(message_page(page, "Refused", forged), 403)
        if not self._signed_in(request):
            login = f"{request.root}/login"
            return Response.html(
                message_page(page, "Sign in first", f"Actions need the dashboard's token: {login}"), 403
            )
        step = request.form.get("step") or None
        actor = request.form.get("actor") or None
        host = self.operator.host

        def run() -> tuple[str, str]:
            if action == "retry":
                host.retry_workflow(workflow_id, step, actor=actor)
                return "retried", workflow_id
            if action == "skip":
                host.skip_step(workflow_id, step or "", actor=actor)
                return f"skipped step {step}", workflow_id
            if action == "fork":
                forked = host.fork_workflow(workflow_id, step or "", actor=actor)
                return f"forked from {workflow_id}", forked
            changed = getattr(host, f"{action}_workflow")(workflow_id, actor=actor)
            return (f"{action} done" if changed else f"{action}: nothing to change"), workflow_id

        base = f"{request.root}/instances/"
        try:
            done, target = await asyncio.to_thread(run)
        except WorkflowNotFoundError:
            raise
        except LiteFlowError as exc:
            return Response.redirect(f"{base}{quote(workflow_id)}?error={quote(str(exc))}")
        return Response.redirect(f"{base}{quote(target)}?done={quote(done)}")

    def _login(self, request: Request, page: Page) -> Response:
        forged = self._forged(request)
        if forged is not None:
            return Response.html(message_page(page, "Refused", forged), 403)
        if self._session is None:
            return Response.redirect(f"{request.root}/instances")
        session = _session_of(request.form.get("token", ""))
        if not hmac.compare_digest(session, self._session):
            return Response.html(login_page(page, failed=True), 403)
        response = Response.redirect(f"{request.root}/instances")
        cookie = f"{_COOKIE}={session}; HttpOnly; SameSite=Strict; Path={request.root or '/'}"
        response.headers.append((b"set-cookie", cookie.encode()))
        return response

    # ------------------------------------------------------------------ live updates

    def _fingerprint(self, query: dict[str, str]) -> object:
        """What the watched page shows that can change; the page reloads when it does."""
        operator = self.operator
        watch = query.get("watch", "")
        if watch != "list":
            try:
                instance = operator.instance(watch)
            except LiteFlowError:
                return None
            pointers = tuple((p.id, p.status, p.end_time, p.retry_count) for p in instance.execution_pointers)
            return instance.status, len(instance.actions), pointers
        try:
            found = operator.find(
                WorkflowQuery(
                    status=parse_status(query["status"]) if query.get("status") else None,
                    definition_id=query.get("definition") or None,
                    reference=query.get("reference") or None,
                    skip=int(query["offset"]) if query.get("offset", "").isdigit() else 0,
                    take=PAGE_SIZE,
                )
            )
        except LiteFlowError:
            return None
        return tuple((summary.id, summary.status) for summary in found)

    async def _events(self, request: Request, receive: Receive, send: Send) -> None:
        """Server-sent events: ``change`` whenever the watched page's content changed."""
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        gone = asyncio.Event()

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        waker = asyncio.Event()
        remove = self._wakers.add((asyncio.get_running_loop(), waker))
        listener = asyncio.create_task(watch_disconnect())
        try:
            last = await asyncio.to_thread(self._fingerprint, request.query)
            quiet = 0.0
            while not gone.is_set():
                waits = [asyncio.create_task(waker.wait()), asyncio.create_task(gone.wait())]
                await asyncio.wait(waits, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED)
                for task in waits:
                    task.cancel()
                waker.clear()
                if gone.is_set():
                    break
                now = await asyncio.to_thread(self._fingerprint, request.query)
                if now != last:
                    last, quiet = now, 0.0
                    await send(
                        {
                            "type": "http.response.body",
                            "body": b"event: change\ndata: {}\n\n",
                            "more_body": True,
                        }
                    )
                elif (quiet := quiet + self._poll_interval) >= _HEARTBEAT:
                    quiet = 0.0
                    await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})
        finally:
            remove()
            listener.cancel()
