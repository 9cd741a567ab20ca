"""A store holding instances in every state, made by the shop application's real host."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from liteflow.core import WorkflowHost, WorkflowInstance
from tests.operate import shop
from tests.servers import (
    drop_database,
    drop_postgres_schema,
    new_database_name,
    postgres_test_database,
    require_mongo,
    require_postgres,
)
from tests.support import wait_until


@dataclass
class Shop:
    """The store's URL and one instance id per state."""

    url: str
    runnable: str  # waits for its approval event; its order number is `approval_key`
    approval_key: str
    suspended: str  # its charge failed; the order is still broken
    broken_order: str
    complete: str
    terminated: str  # a refund whose charge failed
    batch: str  # runnable: a saga with a foreach whose items sleep for a day

    def host(self) -> WorkflowHost:
        """The application's host on this store (not started)."""
        return shop.make_host()


def _wait_for(host: WorkflowHost, workflow_id: str, status: int) -> None:
    wait_until(
        lambda: host.get_workflow_instance(workflow_id).status == status,
        what=f"{workflow_id} to reach status {status}",
    )


def populate(url: str) -> Shop:
    host = shop.make_host()
    broken, approval = uuid.uuid4().hex, uuid.uuid4().hex
    shop.BROKEN.add(broken)
    with host:
        suspended = host.start_workflow(
            "Order", data=shop.OrderData(broken), reference=f"order <b>{broken}</b>"
        )
        complete = host.start_workflow("Order", data=shop.OrderData("fine"), reference="order fine")
        terminated = host.start_workflow("Refund", data=shop.OrderData(broken), reference="refund")
        runnable = host.start_workflow("Approval", data=shop.OrderData(approval), reference="approval")
        batch = host.start_workflow("Batch", data=shop.OrderData("batch"))
        _wait_for(host, suspended, WorkflowInstance.SUSPENDED)
        _wait_for(host, complete, WorkflowInstance.COMPLETE)
        _wait_for(host, terminated, WorkflowInstance.TERMINATED)
        wait_until(
            lambda: host.get_workflow_instance(runnable).data.ran == ["ask"], what="the approval to wait"
        )
        wait_until(
            lambda: host.get_workflow_instance(batch).data.ran.count("pack") == 2, what="the batch to sleep"
        )
    return Shop(url, runnable, approval, suspended, broken, complete, terminated, batch)


@contextmanager
def _shop_at(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    monkeypatch.setenv("SHOP_STORE", url)
    made = populate(url)
    try:
        yield made
    finally:
        shop.BROKEN.discard(made.broken_order)


@pytest.fixture
def sqlite_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    (tmp_path / "shop.db").touch()
    with _shop_at(f"sqlite:///{tmp_path / 'shop.db'}", monkeypatch) as made:
        yield made


@pytest.fixture
def mongo_shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    """The shop in a database of its own on the test MongoDB server."""
    server = require_mongo()
    name = new_database_name()
    parts = urlsplit(server)
    try:
        with _shop_at(
            urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")), monkeypatch
        ) as made:
            yield made
    finally:
        drop_database(server, name)


@pytest.fixture
def postgres_shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    """The shop in a schema of its own in this test run's PostgreSQL database."""
    from psycopg.conninfo import conninfo_to_dict

    dsn = postgres_test_database()
    parts = urlsplit(require_postgres())
    schema = f"shop_{uuid.uuid4().hex[:12]}"
    database = f"/{conninfo_to_dict(dsn)['dbname']}"
    try:
        with _shop_at(
            urlunsplit((parts.scheme, parts.netloc, database, f"schema={schema}", "")), monkeypatch
        ) as made:
            yield made
    finally:
        drop_postgres_schema(dsn, schema)


@pytest.fixture(params=["sqlite", "mongo", "postgres"])
def any_shop(request: pytest.FixtureRequest) -> Shop:
    """The shop on each store in turn."""
    return request.getfixturevalue(f"{request.param}_shop")  # type: ignore[no-any-return]
