"""Fixtures shared by every test: a started host per persistence provider."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from liteflow.core import PersistenceProvider
from liteflow.core.testing import FakeClock
from tests.servers import ServerUnreachable
from tests.support import Scenario, persistence_factories, running_host


@pytest.fixture(params=sorted(persistence_factories()))
def scenario(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    """A started host on each persistence provider in turn."""
    with persistence_factories()[request.param]() as persistence, running_host(persistence) as host:
        yield Scenario(host)


@pytest.fixture
def memory_scenario() -> Iterator[Scenario]:
    """A started host on the in-memory provider, for engine behaviour that does not depend on storage."""
    with running_host() as host:
        yield Scenario(host)


@pytest.fixture(params=sorted(persistence_factories()))
def clocked_scenario(request: pytest.FixtureRequest) -> Iterator[Scenario]:
    """A started host on a `FakeClock` (`scenario.host.clock`), on each persistence provider in turn."""
    with (
        persistence_factories()[request.param]() as persistence,
        running_host(persistence, clock=FakeClock()) as host,
    ):
        yield Scenario(host)


@pytest.fixture(params=["memory", "sqlite"])
def local_persistence(request: pytest.FixtureRequest) -> Iterator[PersistenceProvider]:
    """A fresh memory, then SQLite, store: for a test that starts a host with options of its own."""
    with persistence_factories()[request.param]() as persistence:
        yield persistence


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skip for want of a server is reported at ``tests/servers.py``, not at the test, so the
    summary folds the skips of each server into one line that says how to provide it."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, ServerUnreachable):
        report.longrepr = ("tests/servers.py", None, f"Skipped: {call.excinfo.value.msg}")
    return report
