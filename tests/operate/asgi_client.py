"""Calling an ASGI application in-process, as a server would: for tests of the dashboard."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


def call(
    app: Any,
    method: str,
    target: str,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    root_path: str = "",
) -> Answer:
    """One request; `form` is sent url-encoded."""
    parts = urlsplit(target)
    body = urlencode(form).encode() if form is not None else b""
    sent_headers = {"host": "testserver", **(headers or {})}
    if form is not None:
        sent_headers["content-type"] = "application/x-www-form-urlencoded"
    scope = {
        "type": "http",
        "method": method,
        "path": root_path + parts.path,
        "root_path": root_path,
        "query_string": parts.query.encode(),
        "headers": [(name.encode(), value.encode()) for name, value in sent_headers.items()],
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start = messages[0]
    answer_headers = {name.decode(): value.decode() for name, value in start["headers"]}
    content = b"".join(message.get("body", b"") for message in messages[1:])
    return Answer(start["status"], answer_headers, content.decode())
