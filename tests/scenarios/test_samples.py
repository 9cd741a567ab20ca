"""Every sample runs to completion by itself and prints what its docstring says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import (
    postgres_test_database,
    require_azure,
    require_mongo,
    require_rabbitmq,
    require_redis,
)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

EXPECTED = {
    "01_hello_world.py": ["Hello world", "Goodbye"],
    "02_passing_data.py": ["Hello world", "Goodbye", "2 + 3 = 5"],
    "03_events.py": ["Hello world", "waiting for event1...", "Goodbye", "captured: hello"],
    "05_while.py": ["Hello world", "doing stuff...0", "doing stuff...1", "doing stuff...2", "Goodbye"],
    "06_if.py": [
        "value1 = 5:",
        "Hello world",
        "doing stuff...",
        "Goodbye",
        "value1 = 1:",
        "Hello world",
        "Goodbye",
    ],
    "09_delay_and_sleep.py": ["taking a nap", "woke up after 0.5 s", "waited 0.3 s", "done"],
    "10_error_handling.py": [
        "charge card, attempt 1",
        "charge card, attempt 2",
        "charge card, attempt 3",
        "suspended: waiting for an operator",
        "operator arrived: resuming",
        "shipped",
        "recorded error: ConnectionError: payment gateway timed out",
        "recorded error: ConnectionError: payment gateway timed out",
        "recorded error: RuntimeError: no operator on shift",
    ],
    "13_async_steps.py": [
        "order 1: 10 EUR = 11.00 USD",
        "order 2: 20 EUR = 22.00 USD",
        "order 3: 30 EUR = 33.00 USD",
        "100 orders priced, each after waiting 0.5 s for a rate",
        "the application's event loop kept running",
    ],
    "12_observability.py": [
        "running Schedule",
        "reminder scheduled",
        "running Delay",
        "running Delay",
        "running Remind",
        "reminder sent",
        "event: WorkflowStarted",
        "event: StepStarted Schedule",
        "event: StepCompleted Schedule",
        "event: StepStarted Delay",
        "event: StepStarted Delay",
        "event: StepCompleted Delay",
        "event: StepStarted Remind",
        "event: StepCompleted Remind",
        "event: WorkflowCompleted",
    ],
}


def run_sample(name: str, env: dict[str, str] | None = None) -> list[str]:
    completed = subprocess.run(
        [sys.executable, str(SAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_prints_what_it_promises(name: str) -> None:
    assert run_sample(name) == EXPECTED[name]


def test_foreach_sample_does_stuff_once_per_item() -> None:
    lines = run_sample("04_foreach.py")
    assert lines[0] == "Hello world" and lines[-1] == "Goodbye"
    assert sorted(lines[1:-1]) == ["doing stuff...abc", "doing stuff...def", "doing stuff...xyz"]


def test_mongodb_sample_runs_on_the_test_server() -> None:
    uri = require_mongo()
    assert run_sample("07_mongodb.py", {"LITEFLOW_MONGO_URI": uri}) == [
        "Hello Ann's Bakery",
        "waiting for approval...",
        "approved by ann, shipping",
        "stored in MongoDB: complete, approved by ann",
    ]


def test_azure_sample_runs_on_the_test_servers() -> None:
    env = {"LITEFLOW_MONGO_URI": require_mongo(), "LITEFLOW_AZURE_CONNECTION_STRING": require_azure()}
    assert run_sample("08_azure.py", env) == [
        "Hello from Azure",
        "waiting for the payment...",
        "paid 42.5, done",
        "stored in MongoDB: complete, paid 42.5",
    ]


def test_rabbitmq_and_redis_sample_runs_on_the_test_servers() -> None:
    env = {"LITEFLOW_RABBITMQ_URL": require_rabbitmq(), "LITEFLOW_REDIS_URLS": ",".join(require_redis())}
    assert run_sample("11_rabbitmq_redis.py", env) == [
        "order received",
        "waiting for the warehouse...",
        "picked 3 items",
        "complete: 3 items picked",
    ]


def test_postgres_sample_runs_on_this_test_runs_database() -> None:
    assert run_sample("12_postgres.py", {"LITEFLOW_POSTGRES_URL": postgres_test_database()}) == [
        "invoice 7 received",
        "waiting for the payment...",
        "paid 120.5 EUR",
        "stored in PostgreSQL: complete, paid 120.5",
    ]


def test_main_sample_completes_an_order_on_sqlite(tmp_path: Path) -> None:
    env = {"LITEFLOW_SAMPLE_DB": str(tmp_path / "orders.db"), "LITEFLOW_SAMPLE_APPROVAL_DELAY": "0.2"}
    assert run_sample("main.py", env) == [
        f"starting order 42 in {tmp_path / 'orders.db'}",
        "order 42 received",
        "charged 99 EUR",
        "waiting for approval (Ctrl-C now stops it; run again to resume)",
        "approved by ann: shipped",
        "order complete",
    ]


def test_main_sample_resumes_after_ctrl_c_without_repeating_steps(tmp_path: Path) -> None:
    database = tmp_path / "orders.db"
    env = {
        **os.environ,
        "LITEFLOW_SAMPLE_DB": str(database),
        "LITEFLOW_SAMPLE_APPROVAL_DELAY": "60",
        "PYTHONFAULTHANDLER": "1",  # SIGABRT on a hang prints every thread's stack
    }
    # As in a terminal: a run started in the background (`cmd &`, as CI may be) has SIGINT
    # ignored, which a child inherits, and Python then never raises KeyboardInterrupt; a handler
    # (unlike "ignored") is reset to the default in the child.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    first = subprocess.Popen(
        [sys.executable, str(SAMPLES / "main.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    signal.signal(signal.SIGINT, ignored)
    assert first.stdout is not None
    lines: list[str] = []
    for line in first.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("waiting for approval"):
            break
    first.send_signal(signal.SIGINT)
    try:
        rest, errors = first.communicate(timeout=45)
    except subprocess.TimeoutExpired:
        first.send_signal(signal.SIGABRT)
        _, stacks = first.communicate()
        raise AssertionError(f"no stop within 45 s of Ctrl-C; the threads:\n{stacks}") from None
    assert first.returncode == 0, errors
    assert "still running" not in errors  # stop() found every thread idle, none ran out its timeout
    assert rest.splitlines() == ["stopped; run again to continue"]
    assert lines[1:3] == ["order 42 received", "charged 99 EUR"]

    second = run_sample(
        "main.py", {"LITEFLOW_SAMPLE_DB": str(database), "LITEFLOW_SAMPLE_APPROVAL_DELAY": "0.2"}
    )
    assert second == [
        f"resuming order 42 from {database}",
        "waiting for approval (Ctrl-C now stops it; run again to resume)",
        "approved by ann: shipped",
        "order complete",
    ]
