"""Bad input to the public API raises a LiteFlowError where it is given, and stores nothing."""

from __future__ import annotations

import enum
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from liteflow.core import (
    ExecutionResult,
    InvalidArgumentError,
    SerializationError,
    SqlitePersistenceProvider,
    StepBody,
    StepExecutionContext,
    Workflow,
    WorkflowBuilder,
    WorkflowDefinitionError,
    WorkflowHost,
    configure_workflow_host,
)
from liteflow.core.registry import WorkflowRegistry
from liteflow.core.serialization import JsonSerializer


class Noop(StepBody):
    def run(self, context: StepExecutionContext) -> ExecutionResult:
        return ExecutionResult.next()


class Flow(Workflow):
    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop)


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 1


class BrokenText:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class QuietText(str):
    def __str__(self) -> str:
        raise RuntimeError("never asked")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "checks.db"


@pytest.fixture
def host(database: Path) -> Iterator[WorkflowHost]:
    store = SqlitePersistenceProvider(database, serializer=JsonSerializer(max_size=1000))
    store.start()  # the tables exist, so "nothing stored" can be read
    host = configure_workflow_host(store)
    host.register_workflow(Flow())
    yield host
    store.close()


def _rows(database: Path, table: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as connection:
        return list(connection.execute(f"SELECT * FROM {table}"))


@pytest.mark.parametrize("workflow_id", [["x"], 42, None, ""])
def test_start_workflow_refuses_a_workflow_id_that_is_not_text(
    host: WorkflowHost, database: Path, workflow_id: Any
) -> None:
    with pytest.raises(InvalidArgumentError, match=r"start_workflow\(\) needs a workflow id string"):
        host.start_workflow(workflow_id)
    assert _rows(database, "workflows") == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"version": "1"}, "version must be an int"),
        ({"version": True}, "version must be an int"),
        ({"version": [1]}, "version must be an int"),
        ({"reference": "\ud800"}, "reference must be text"),
        ({"reference": 5}, "reference must be text"),
    ],
)
def test_start_workflow_refuses_a_bad_version_or_reference(
    host: WorkflowHost, database: Path, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        host.start_workflow("Flow", **arguments)
    assert _rows(database, "workflows") == []


@pytest.mark.parametrize(
    ("key", "shown"),
    [(b"42", "bytes"), (object(), "object"), (1.5, "float"), (True, "bool"), (BrokenText(), "BrokenText"),
     (["k"], "list"), (Color.RED, "Color")],
)  # fmt: skip
def test_publish_event_refuses_a_key_that_is_not_text_int_or_uuid(
    host: WorkflowHost, database: Path, key: Any, shown: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=f"event key must be a str, int or UUID, got {shown}"):
        host.publish_event("approval", key)
    assert _rows(database, "events") == []


def test_event_keys_are_stored_as_the_text_of_their_built_in_type(host: WorkflowHost, database: Path) -> None:
    key = uuid.uuid4()
    for value in ("42", 42, key, Level.HIGH, QuietText("quiet"), None):
        host.publish_event("approval", value)
    assert [row[2] for row in _rows(database, "events")] == ["42", "42", str(key), "1", "quiet", None]


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (("\ud800", "key"), InvalidArgumentError, "event name contains a lone surrogate"),
        (("approval", "\udc00"), InvalidArgumentError, "event key contains a lone surrogate"),
        (
            ("approval", "key", {"note": "\ud800"}),
            SerializationError,
            r"lone surrogate at event_data\['note'\]",
        ),
        (("approval", "key", "x" * 2000), SerializationError, "larger than 1000 characters at event_data"),
        (
            ("approval", "key", None, datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))),
            InvalidArgumentError,
            "effective_date",
        ),
    ],
    ids=["surrogate-name", "surrogate-key", "surrogate-data", "too-large", "date-overflow"],
)
def test_publish_event_refuses_what_no_store_could_hold(
    host: WorkflowHost, database: Path, arguments: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        host.publish_event(*arguments)
    assert _rows(database, "events") == []


def test_start_workflow_refuses_data_over_the_size_cap(host: WorkflowHost, database: Path) -> None:
    with pytest.raises(SerializationError, match="larger than 1000 characters at data"):
        host.start_workflow("Flow", data={"blob": "x" * 2000})
    assert _rows(database, "workflows") == []


def test_the_default_size_cap_is_16_mib(tmp_path: Path) -> None:
    store = SqlitePersistenceProvider(tmp_path / "default.db")
    host = configure_workflow_host(store)
    try:
        with pytest.raises(SerializationError, match=f"larger than {16 * 1024 * 1024} characters"):
            host.publish_event("approval", "key", "x" * (16 * 1024 * 1024 + 1))
    finally:
        store.close()


class Versioned(Workflow):
    def __init__(self, version: Any) -> None:
        self._version = version

    def version(self) -> Any:
        return self._version

    def build(self, builder: WorkflowBuilder) -> None:
        builder.start_with(Noop)


@pytest.mark.parametrize("version", [-5, 0, True, "1", 1.0])
def test_register_workflow_refuses_a_version_that_is_not_a_positive_int(version: Any) -> None:
    with pytest.raises(WorkflowDefinitionError, match="version\\(\\) must return a positive int"):
        WorkflowRegistry().register_workflow(Versioned(version))


class Built(Workflow):
    def __init__(self, build: Any) -> None:
        self._build = build

    def build(self, builder: WorkflowBuilder) -> None:
        self._build(builder)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda b: b.start_with(Noop).for_each(42).do(lambda x: x.start_with(Noop)), "for_each.*got int"),
        (lambda b: b.start_with(Noop).wait_for("e", b"42"), "the event key must be a str, int or UUID"),
        (lambda b: b.start_with(Noop).wait_for("\ud800", "k"), "lone surrogate"),
    ],
    ids=["for-each-int", "wait-for-bytes-key", "wait-for-surrogate-name"],
)
def test_the_builder_refuses_what_could_never_run(build: Any, message: str) -> None:
    with pytest.raises(WorkflowDefinitionError, match=message):
        WorkflowRegistry().register_workflow(Built(build))


def test_for_each_accepts_a_fixed_collection() -> None:
    WorkflowRegistry().register_workflow(
        Built(lambda b: b.start_with(Noop).for_each([1, 2]).do(lambda x: x.start_with(Noop)))
    )
