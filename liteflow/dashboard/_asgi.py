"""Just enough ASGI: a request read from its scope and body, and the responses the pages send.

The dashboard is a plain ASGI application (no framework), so it mounts in Starlette or
FastAPI as it is and needs only an ASGI server to run alone.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

__all__ = ["Receive", "Request", "Response", "Scope", "Send", "read_request"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The largest request body read (an action's form is a few hundred bytes).
MAX_BODY = 64 * 1024

#: Sent with every page: no script but the dashboard's own file, nothing from elsewhere.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


@dataclass
class Request:
    method: str
    #: The path inside the dashboard (without the prefix it is mounted at).
    path: str
    #: The prefix it is mounted at ("" when alone), for the links it writes.
    root: str
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


def _first_values(text: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(text, keep_blank_values=True).items()}


async def read_request(scope: Scope, receive: Receive) -> Request:
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    cookies: dict[str, str] = {}
    if "cookie" in headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers["cookie"])
        except Exception:  # a malformed cookie header is no cookie at all
            jar = SimpleCookie()
        cookies = {name: morsel.value for name, morsel in jar.items()}
    root = scope.get("root_path", "") or ""
    path = scope["path"]
    if root and path.startswith(root):
        path = path[len(root) :]
    request = Request(
        scope["method"],
        path or "/",
        root,
        _first_values(scope.get("query_string", b"").decode("latin-1")),
        headers,
        cookies,
    )
    if request.method == "POST":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY or not message.get("more_body"):
                break
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            request.form = _first_values(body[:MAX_BODY].decode("utf-8", "replace"))
    return request


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode("utf-8"))

    @classmethod
    def json(cls, document: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(document).encode("utf-8"), "application/json")

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(303, b"", headers=[(b"location", location.encode("utf-8"))])

    async def send(self, send: Send) -> None:
        headers = [(b"content-type", self.content_type.encode()), *SECURITY_HEADERS, *self.headers]
        headers.append((b"cache-control", b"no-store"))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
