"""The dashboard's ASGI application, called in-process: pages, escaping, actions and their guards."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liteflow.core import InvalidArgumentError, WorkflowAction, WorkflowInstance
from liteflow.dashboard import DashboardApp, create_app
from liteflow.dashboard._graph import draw
from liteflow.dashboard._serve import actions_off
from liteflow.operate import Operator
from tests.operate import shop
from tests.operate.asgi_client import Answer, call
from tests.operate.conftest import Shop
from tests.support import wait_until

APP = "tests.operate.shop:make_host"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def operator(sqlite_shop: Shop) -> Iterator[Operator]:
    with Operator.open(sqlite_shop.url, APP) as opened:
        yield opened


@pytest.fixture
def app(operator: Operator) -> DashboardApp:
    return create_app(operator)


def csrf_of(page: Answer) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.body)
    assert found is not None, "the page has no action form"
    return found.group(1)


def act(app: Any, workflow_id: str, action: str, **form: str) -> Answer:
    page = call(app, "GET", f"/instances/{workflow_id}")
    return call(app, "POST", f"/instances/{workflow_id}/{action}", {"csrf": csrf_of(page), **form})


def stored(operator: Operator, workflow_id: str) -> WorkflowInstance:
    return operator.instance(workflow_id)


# ------------------------------------------------------------------ pages


def test_the_list_shows_every_instance(app: DashboardApp, sqlite_shop: Shop) -> None:
    page = call(app, "GET", "/instances")
    assert page.status == 200
    for workflow_id in (sqlite_shop.suspended, sqlite_shop.complete, sqlite_shop.terminated):
        assert f'href="/instances/{workflow_id}"' in page.body


def test_the_list_filters_by_status_and_reference(app: DashboardApp, sqlite_shop: Shop) -> None:
    page = call(app, "GET", "/instances?status=terminated")
    assert sqlite_shop.terminated in page.body and sqlite_shop.complete not in page.body
    page = call(app, "GET", "/instances?reference=order+fine")
    assert sqlite_shop.complete in page.body and sqlite_shop.suspended not in page.body


def test_a_bad_filter_says_what_is_wrong(app: DashboardApp) -> None:
    page = call(app, "GET", "/instances?status=sleepy")
    assert page.status == 400 and "unknown status &#x27;sleepy&#x27;" in page.body


def test_the_root_leads_to_the_list(app: DashboardApp) -> None:
    assert call(app, "GET", "/").location == "/instances"


def test_an_instance_page_shows_graph_steps_data_errors_and_history(
    app: DashboardApp, sqlite_shop: Shop
) -> None:
    page = call(app, "GET", f"/instances/{sqlite_shop.suspended}")
    assert page.status == 200
    assert '<svg class="graph"' in page.body
    assert 'class="step state-failed" data-step="1"' in page.body
    assert 'class="step state-complete" data-step="0"' in page.body
    assert "Traceback (most recent call last)" in page.body
    assert "tests.operate.shop:OrderData" in page.body


def test_an_unknown_instance_is_a_404(app: DashboardApp) -> None:
    page = call(app, "GET", "/instances/nope")
    assert page.status == 404 and "no workflow instance with id" in page.body


def test_stored_markup_is_escaped_everywhere(app: DashboardApp, sqlite_shop: Shop) -> None:
    for target in (
        "/instances",
        f"/instances/{sqlite_shop.suspended}",
        "/definitions",
        "/definitions/Order/1",
    ):
        body = call(app, "GET", target).body
        assert "<script>window" not in body and "<img src=x" not in body and "<b>" not in body, target
    instance = call(app, "GET", f"/instances/{sqlite_shop.suspended}").body
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in instance
    assert "order &lt;b&gt;" in instance


def test_pages_forbid_any_script_but_the_dashboards_own(app: DashboardApp) -> None:
    headers = call(app, "GET", "/instances").headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"


def test_the_static_files_are_served_from_the_package(app: DashboardApp) -> None:
    script = call(app, "GET", "/static/app.js")
    assert script.status == 200 and script.headers["content-type"].startswith("text/javascript")
    assert call(app, "GET", "/static/../_app.py").status == 404


def test_definitions_are_drawn(app: DashboardApp) -> None:
    page = call(app, "GET", "/definitions")
    assert [found for found in re.findall(r"<h2><a [^>]*>([^<]+)</a>", page.body)] == [
        "Approval v1",
        "Batch v1",
        "Order v1",
        "Refund v1",
    ]
    assert page.body.count('<svg class="graph"') == 4


def test_links_keep_the_prefix_the_dashboard_is_mounted_at(app: DashboardApp, sqlite_shop: Shop) -> None:
    page = call(app, "GET", "/instances", root_path="/ops")
    assert f'href="/ops/instances/{sqlite_shop.complete}"' in page.body
    assert 'src="/ops/static/app.js"' in page.body


# ------------------------------------------------------------------ actions


def test_retry_from_the_page_changes_the_store(
    app: DashboardApp, operator: Operator, sqlite_shop: Shop
) -> None:
    answer = act(app, sqlite_shop.suspended, "retry", actor="ann")
    assert answer.status == 303 and answer.location == f"/instances/{sqlite_shop.suspended}?done=retried"
    instance = stored(operator, sqlite_shop.suspended)
    assert instance.status == WorkflowInstance.RUNNABLE
    assert [(a.action, a.actor) for a in instance.actions] == [(WorkflowAction.RETRY, "ann")]


def test_skip_and_fork_from_the_page(app: DashboardApp, operator: Operator, sqlite_shop: Shop) -> None:
    assert act(app, sqlite_shop.suspended, "skip", step="1").status == 303
    assert stored(operator, sqlite_shop.suspended).actions[0].action == WorkflowAction.SKIP
    forked = act(app, sqlite_shop.complete, "fork", step="0")
    new_id = forked.location.split("/instances/")[1].split("?")[0]
    assert stored(operator, new_id).actions[0].other_workflow_id == sqlite_shop.complete


def test_a_refused_action_comes_back_as_a_message(
    app: DashboardApp, operator: Operator, sqlite_shop: Shop
) -> None:
    answer = act(app, sqlite_shop.runnable, "retry")
    assert answer.status == 303 and "?error=" in answer.location
    page = call(app, "GET", answer.location)
    assert "is runnable: only a suspended or terminated instance can be retried" in page.body
    assert stored(operator, sqlite_shop.runnable).actions == []


def test_an_action_without_the_pages_secret_is_refused(
    app: DashboardApp, operator: Operator, sqlite_shop: Shop
) -> None:
    answer = call(app, "POST", f"/instances/{sqlite_shop.suspended}/retry", {"csrf": "guess"})
    assert answer.status == 403 and "did not come from this dashboard" in answer.body
    assert stored(operator, sqlite_shop.suspended).status == WorkflowInstance.SUSPENDED


def test_an_action_from_another_site_is_refused(
    app: DashboardApp, operator: Operator, sqlite_shop: Shop
) -> None:
    secret = csrf_of(call(app, "GET", f"/instances/{sqlite_shop.suspended}"))
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        answer = call(app, "POST", f"/instances/{sqlite_shop.suspended}/retry", {"csrf": secret}, headers)
        assert answer.status == 403 and "another site" in answer.body
    assert stored(operator, sqlite_shop.suspended).status == WorkflowInstance.SUSPENDED


def test_read_only_shows_no_action_and_refuses_them(operator: Operator, sqlite_shop: Shop) -> None:
    app = create_app(operator, read_only="on 0.0.0.0 they need a token")
    page = call(app, "GET", f"/instances/{sqlite_shop.suspended}")
    assert '<form method="post"' not in page.body and "they need a token" in page.body
    answer = call(app, "POST", f"/instances/{sqlite_shop.suspended}/retry", {"csrf": "x"})
    assert answer.status == 403
    assert stored(operator, sqlite_shop.suspended).status == WorkflowInstance.SUSPENDED


def test_with_a_token_actions_need_it(operator: Operator, sqlite_shop: Shop) -> None:
    app = create_app(operator, token="s3cret-token")
    assert act(app, sqlite_shop.suspended, "retry").status == 403
    secret = csrf_of(call(app, "GET", "/login"))
    wrong = call(app, "POST", "/login", {"csrf": secret, "token": "guess"})
    assert wrong.status == 403 and "not the right one" in wrong.body
    signed = call(app, "POST", "/login", {"csrf": secret, "token": "s3cret-token"})
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "s3cret-token" not in cookie
    session = {"cookie": cookie.split(";")[0]}
    answer = call(app, "POST", f"/instances/{sqlite_shop.suspended}/retry", {"csrf": secret}, session)
    assert answer.status == 303
    assert stored(operator, sqlite_shop.suspended).status == WorkflowInstance.RUNNABLE


def test_a_script_sends_the_token_as_a_bearer(operator: Operator, sqlite_shop: Shop) -> None:
    app = create_app(operator, token="s3cret-token")
    secret = csrf_of(call(app, "GET", "/login"))
    bearer = {"authorization": "Bearer s3cret-token"}
    assert (
        call(app, "POST", f"/instances/{sqlite_shop.runnable}/suspend", {"csrf": secret}, bearer).status
        == 303
    )
    assert stored(operator, sqlite_shop.runnable).status == WorkflowInstance.SUSPENDED


@pytest.mark.parametrize("given", [42, "short"])
def test_create_app_refuses_what_it_cannot_use(operator: Operator, given: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        if isinstance(given, int):
            create_app(given)  # type: ignore[arg-type]
        else:
            create_app(operator, token=given)


# ------------------------------------------------------------------ live updates


def test_a_watched_instance_page_is_told_when_it_changes(app: DashboardApp, sqlite_shop: Shop) -> None:
    app = create_app(app.operator, poll_interval=0.05)
    sent: list[bytes] = []

    async def scenario() -> None:
        disconnect = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await disconnect.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message.get("body", b""))

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/events",
            "query_string": f"watch={sqlite_shop.suspended}".encode(),
            "headers": [],
        }
        stream = asyncio.create_task(app(scope, receive, send))
        await asyncio.sleep(0.3)
        assert b"event: change" not in b"".join(sent)
        await asyncio.to_thread(app.operator.host.resume_workflow, sqlite_shop.suspended)
        for _ in range(100):
            if b"event: change" in b"".join(sent):
                break
            await asyncio.sleep(0.02)
        disconnect.set()
        await asyncio.wait_for(stream, 5)

    asyncio.run(scenario())
    assert b"".join(sent).count(b"event: change") == 1


# ------------------------------------------------------------------ the graph


def test_the_graph_escapes_step_names_and_shows_states(operator: Operator, sqlite_shop: Shop) -> None:
    instance = operator.instance(sqlite_shop.suspended)
    definition = operator.definition_of(instance)
    assert definition is not None
    svg = draw(definition, instance)
    assert "<script>" not in svg and "ship &lt;script&gt;" in svg
    assert re.findall(r'class="step state-(\w+)" data-step="(\d)"', svg) == [
        ("complete", "0"),
        ("failed", "1"),
        ("none", "2"),
    ]


def test_the_graph_draws_blocks_inside_their_container(operator: Operator) -> None:
    definition = operator.host.registry.get_definition("Batch")
    svg = draw(definition)
    assert svg.count('class="frame saga"') == 1 and svg.count('class="frame"') == 1
    assert svg.count('class="compensation"') == 1
    assert shop.MARKUP not in svg


# ------------------------------------------------------------------ liteflow dashboard


@pytest.mark.parametrize(
    ("host", "token", "read_only", "off"),
    [
        ("127.0.0.1", None, False, False),
        ("localhost", None, False, False),
        ("::1", None, False, False),
        ("0.0.0.0", None, False, "on 0.0.0.0 they need a token"),
        ("192.168.1.5", "s3cret-token", False, False),
        ("127.0.0.1", None, True, True),
    ],
)
def test_off_the_loopback_address_actions_need_a_token(
    host: str, token: str | None, read_only: bool, off: bool | str
) -> None:
    decided = actions_off(host, token, read_only)
    if isinstance(off, str):
        assert isinstance(decided, str) and decided.startswith(off)
    else:
        assert decided is off


def test_the_dashboard_command_serves_the_store(sqlite_shop: Shop) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "liteflow", "--store", sqlite_shop.url, "dashboard", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:

        def page() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/instances", timeout=2) as answer:
                    return str(answer.read().decode())
            except OSError:
                return None

        body = wait_until(page, timeout=30, interval=0.1, what="liteflow dashboard to serve")
        assert sqlite_shop.suspended in body and 'name="csrf"' not in body  # the list has no form
    finally:
        server.terminate()
        server.wait(15)
