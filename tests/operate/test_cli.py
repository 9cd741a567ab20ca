"""The ``liteflow`` command line on real stores: JSON parsed, actions checked in the store."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from liteflow.cli import main
from liteflow.core import ExecutionPointer, WorkflowAction, WorkflowInstance
from tests.operate import shop
from tests.operate.conftest import Shop
from tests.support import wait_until

APP = "tests.operate.shop:make_host"
ROOT = Path(__file__).resolve().parents[2]


def run(shop_: Shop, *arguments: str, app: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    prefix = ["--store", shop_.url, *(["--app", APP] if app else [])]
    code = main([*prefix, *arguments], out, err)
    return code, out.getvalue(), err.getvalue()


def run_json(shop_: Shop, *arguments: str, app: bool = False) -> Any:
    code, out, err = run(shop_, "--json", *arguments, app=app)
    assert (code, err) == (0, "")
    return json.loads(out)


def stored(shop_: Shop, workflow_id: str) -> WorkflowInstance:
    return shop_.host().get_workflow_instance(workflow_id)


# ------------------------------------------------------------------ reading


def test_list_shows_every_instance_newest_first(any_shop: Shop) -> None:
    listed = run_json(any_shop, "list")
    by_id = {item["id"]: item["status"] for item in listed}
    assert by_id == {
        any_shop.runnable: "runnable",
        any_shop.batch: "runnable",
        any_shop.suspended: "suspended",
        any_shop.complete: "complete",
        any_shop.terminated: "terminated",
    }
    created = [item["create_time"] for item in listed]
    assert created == sorted(created, reverse=True)


def test_list_filters_by_status_definition_and_reference(sqlite_shop: Shop) -> None:
    def ids(*arguments: str) -> list[str]:
        return [item["id"] for item in run_json(sqlite_shop, "list", *arguments)]

    assert ids("--status", "suspended") == [sqlite_shop.suspended]
    assert set(ids("--definition", "Order")) == {sqlite_shop.suspended, sqlite_shop.complete}
    assert ids("--reference", "refund") == [sqlite_shop.terminated]
    assert len(ids("--since", "2h", "--limit", "2")) == 2
    assert ids("--until", "2000-01-01") == []


def test_list_prints_a_table_on_a_terminal(sqlite_shop: Shop) -> None:
    _, out, _ = run(sqlite_shop, "list", "--status", "terminated")
    header, row = out.splitlines()
    assert header.split() == ["id", "definition", "version", "status", "reference", "created"]
    assert row.split()[:4] == [sqlite_shop.terminated, "Refund", "1", "terminated"]


def test_show_gives_data_steps_errors_with_tracebacks(any_shop: Shop) -> None:
    view = run_json(any_shop, "show", any_shop.suspended)
    assert view["status"] == "suspended"
    # Without the application, the data is shown as it is stored.
    assert view["data"]["class"] == "tests.operate.shop:OrderData"
    assert view["data"]["state"]["ran"] == ["reserve", "charge"]
    assert [(s["step"], s["status"]) for s in view["steps"]] == [
        ("reserve", "complete"),
        ("charge", "failed"),
    ]
    [error] = view["errors"]
    assert error["step_id"] == 1 and error["message"].startswith("ConnectionError: payment service down")
    assert "Traceback (most recent call last)" in error["traceback"]


def test_show_nests_steps_under_their_block(sqlite_shop: Shop) -> None:
    view = run_json(sqlite_shop, "show", sqlite_shop.batch, app=True)
    saga = view["steps"][1]
    assert saga["step"] == "Saga" and saga["status"] == "running"
    foreach = saga["children"][1]
    # Per item, a step then a delay: the item's block is a chain, so all four are the foreach's.
    assert [child["item"] for child in foreach["children"]] == ["a", "b", "a", "b"]
    sleeping = [child for child in foreach["children"] if child["status"] == "sleeping"]
    assert len(sleeping) == 2 and all(child["waiting_for"].startswith("wake at") for child in sleeping)


def test_show_tells_what_a_step_waits_for(any_shop: Shop) -> None:
    view = run_json(any_shop, "show", any_shop.runnable)
    waiting = view["steps"][1]
    assert waiting["status"] == "waiting"
    assert waiting["waiting_for"] == f"event approved / {any_shop.approval_key}"
    [subscription] = view["subscriptions"]
    assert (subscription["event_name"], subscription["event_key"]) == ("approved", any_shop.approval_key)


def test_show_with_the_application_rebuilds_the_data(sqlite_shop: Shop) -> None:
    view = run_json(sqlite_shop, "show", sqlite_shop.complete, app=True)
    assert view["data"]["$type"] == "dataclass"
    assert view["definition_known"] is True


def test_show_prints_a_tree_on_a_terminal(sqlite_shop: Shop) -> None:
    code, out, _ = run(sqlite_shop, "show", sqlite_shop.suspended)
    assert code == 0
    assert "├─ reserve [complete]" in out
    assert "└─ charge [failed]" in out
    assert "Traceback (most recent call last)" in out


# ------------------------------------------------------------------ actions


def test_retry_without_the_application_runs_again_once_the_host_sees_it(sqlite_shop: Shop) -> None:
    shop.BROKEN.discard(sqlite_shop.broken_order)
    before = stored(sqlite_shop, sqlite_shop.suspended)
    code, out, err = run(sqlite_shop, "retry", sqlite_shop.suspended, "--actor", "ann")
    assert (code, err) == (0, "")
    assert out == f"{sqlite_shop.suspended}: retry done, now runnable\n"
    after = stored(sqlite_shop, sqlite_shop.suspended)
    assert after.data == before.data  # written back exactly as it was stored
    assert [(a.action, a.actor) for a in after.actions] == [(WorkflowAction.RETRY, "ann")]
    with sqlite_shop.host() as host:  # the application's poller picks it up
        instance = host.wait_for_workflow(sqlite_shop.suspended)
    assert instance.status == WorkflowInstance.COMPLETE
    assert instance.data.ran == ["reserve", "charge", "charge", "ship"]


def test_retry_from_a_step(any_shop: Shop) -> None:
    shop.BROKEN.discard(any_shop.broken_order)
    result = run_json(any_shop, "retry", any_shop.terminated, "--from-step", "charge", app=True)
    assert (result["changed"], result["status"]) == (True, "runnable")
    instance = stored(any_shop, any_shop.terminated)
    assert [p.status for p in instance.execution_pointers] == [
        ExecutionPointer.CANCELLED,
        ExecutionPointer.PENDING,
    ]
    assert instance.actions[0].step_id == 0


def test_skip_with_the_application(any_shop: Shop) -> None:
    run_json(any_shop, "skip", any_shop.suspended, "--step", "charge", app=True)
    instance = stored(any_shop, any_shop.suspended)
    assert instance.status == WorkflowInstance.RUNNABLE
    assert instance.execution_pointers[1].status == ExecutionPointer.SKIPPED
    assert instance.actions[0].action == WorkflowAction.SKIP


def test_skip_without_the_application_says_to_give_it(sqlite_shop: Shop) -> None:
    code, out, err = run(sqlite_shop, "skip", sqlite_shop.suspended, "--step", "charge")
    assert (code, out) == (2, "")
    assert err == (
        "liteflow: error: workflow 'Order' version 1 is not registered with this host "
        "(give the application with --app M:A)\n"
    )


def test_fork_prints_the_new_instance(sqlite_shop: Shop) -> None:
    code, out, err = run(sqlite_shop, "fork", sqlite_shop.complete, "--from-step", "1", app=True)
    forked_id = out.strip()
    assert (code, err) == (0, "")
    forked = stored(sqlite_shop, forked_id)
    assert forked.status == WorkflowInstance.RUNNABLE and forked.execution_pointers[0].step_id == 1
    assert forked.actions[0].other_workflow_id == sqlite_shop.complete


@pytest.mark.parametrize(
    ("command", "status"),
    [("suspend", WorkflowInstance.SUSPENDED), ("terminate", WorkflowInstance.TERMINATED)],
)
def test_status_commands_change_the_store(any_shop: Shop, command: str, status: int) -> None:
    result = run_json(any_shop, command, any_shop.runnable, "--actor", "ops")
    assert result["changed"] is True
    instance = stored(any_shop, any_shop.runnable)
    assert instance.status == status
    assert [(a.action, a.actor) for a in instance.actions] == [(command, "ops")]


def test_resume_makes_a_suspended_instance_runnable(sqlite_shop: Shop) -> None:
    assert run_json(sqlite_shop, "resume", sqlite_shop.suspended)["status"] == "runnable"


def test_publish_wakes_the_waiting_instance(sqlite_shop: Shop) -> None:
    result = run_json(sqlite_shop, "publish", "approved", sqlite_shop.approval_key, "--data", '{"by": "ann"}')
    assert sqlite_shop.host().persistence_service.get_event(result["event_id"]) is not None
    with sqlite_shop.host() as host:
        wait_until(
            lambda: host.get_workflow_instance(sqlite_shop.runnable).status == WorkflowInstance.COMPLETE
        )


def test_purge_deletes_old_finished_instances(sqlite_shop: Shop) -> None:
    assert run_json(sqlite_shop, "purge", "--status", "complete", "--older-than", "1d") == {"purged": 0}
    assert run_json(sqlite_shop, "purge", "--status", "complete", "--older-than", "0s") == {"purged": 1}
    assert [i["id"] for i in run_json(sqlite_shop, "list", "--status", "complete")] == []


def test_stuck_lists_suspended_instances_with_their_last_error(any_shop: Shop) -> None:
    code, out, _ = run(any_shop, "--json", "stuck")
    assert code == 5
    report = json.loads(out)
    assert [item["id"] for item in report["suspended_with_errors"]] == [any_shop.suspended]
    assert report["suspended_with_errors"][0]["last_error"].startswith("ConnectionError")
    assert report["overdue"] == [] and report["events"] == []


def test_stuck_finds_overdue_instances_and_old_events(sqlite_shop: Shop) -> None:
    run_json(sqlite_shop, "resume", sqlite_shop.suspended)  # runnable now, and no host runs it
    run_json(sqlite_shop, "publish", "nobody-waits", "k")
    code, out, _ = run(sqlite_shop, "--json", "stuck", "--threshold", "0s")
    assert code == 5
    report = json.loads(out)
    assert sqlite_shop.suspended in [item["id"] for item in report["overdue"]]
    assert [event["name"] for event in report["events"]] == ["nobody-waits"]


def test_nothing_stuck_exits_zero(sqlite_shop: Shop) -> None:
    run_json(sqlite_shop, "terminate", sqlite_shop.suspended)
    assert run(sqlite_shop, "stuck") == (0, "nothing stuck\n", "")


def test_definitions_come_from_the_application(sqlite_shop: Shop) -> None:
    assert [d["id"] for d in run_json(sqlite_shop, "definitions", app=True)] == [
        "Approval",
        "Batch",
        "Order",
        "Refund",
    ]


# ------------------------------------------------------------------ errors and exit codes


def test_an_unknown_instance_exits_3_with_one_line(sqlite_shop: Shop) -> None:
    assert run(sqlite_shop, "show", "nope") == (
        3,
        "",
        "liteflow: error: no workflow instance with id 'nope'\n",
    )


def test_retry_of_a_runnable_instance_is_refused_with_exit_4(sqlite_shop: Shop) -> None:
    code, out, err = run(sqlite_shop, "retry", sqlite_shop.runnable)
    assert (code, out) == (4, "")
    assert "is runnable: only a suspended or terminated instance can be retried" in err
    assert stored(sqlite_shop, sqlite_shop.runnable).actions == []


def test_an_action_that_changes_nothing_exits_4(sqlite_shop: Shop) -> None:
    code, out, _ = run(sqlite_shop, "resume", sqlite_shop.complete)
    assert (code, out) == (4, f"{sqlite_shop.complete}: not changed, it is complete\n")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--store", "redis://x", "list"], "unknown store URL 'redis://x'"),
        (["--store", "sqlite:///no/such.db", "list"], "no SQLite store at 'no/such.db'"),
        (["list"], "name the store: --store URL"),
        (["--app", "no_such_module:host", "list"], "cannot import 'no_such_module'"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    arguments: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LITEFLOW_STORE", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert main(arguments, out, err) == 2
    assert message in err.getvalue() and len(err.getvalue().splitlines()) == 1


def test_a_bad_value_exits_2(sqlite_shop: Shop) -> None:
    code, _, err = run(sqlite_shop, "list", "--status", "sleepy")
    assert code == 2 and "unknown status 'sleepy'" in err
    code, _, err = run(sqlite_shop, "purge", "--status", "complete", "--older-than", "soon")
    assert code == 2 and "'soon' is not a duration" in err


def test_the_store_comes_from_the_environment(sqlite_shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITEFLOW_STORE", sqlite_shop.url)
    out = io.StringIO()
    assert main(["show", "--json", sqlite_shop.complete], out, io.StringIO()) == 0
    assert json.loads(out.getvalue())["status"] == "complete"


@pytest.mark.parametrize("command", [["liteflow"], [sys.executable, "-m", "liteflow"]])
def test_the_console_script_and_python_m(sqlite_shop: Shop, command: list[str]) -> None:
    if command == ["liteflow"]:
        command = [str(Path(sys.executable).with_name("liteflow"))]
    done = subprocess.run(
        [*command, "--store", sqlite_shop.url, "--json", "list", "--status", "complete"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ},
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert [item["id"] for item in json.loads(done.stdout)] == [sqlite_shop.complete]
