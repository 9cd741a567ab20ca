"""RedlockProvider against real Redis servers: the lock contracts, then faults and lost leases.

Needs three independent servers (``LITEFLOW_REDIS_URLS``, comma-separated; started by
``scripts/services.sh start redis``); the fault tests stop and restart one or two of them
through that script.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.providers import LockProvider
from liteflow.core.testing import LeasedLockConformance, LockProviderConformance
from liteflow_redis import RedlockProvider
from tests.servers import require_redis, require_redis_control, stopped_redis
from tests.support import lock_nodes, wait_until

__all__: list[str] = []

pytestmark = pytest.mark.integration

KEY_PREFIX = "liteflow:test-lock:"
LEASE = 1.0
DEAD_URLS = ("redis://127.0.0.1:1/0", "redis://127.0.0.1:2/0")


@pytest.fixture(scope="module")
def redis_urls() -> list[str]:
    return require_redis()


@pytest.fixture(scope="module")
def redis_control() -> list[str]:
    """The three servers' URLs, once ``scripts/services.sh`` is known to stop and start them."""
    return require_redis_control()


@pytest.fixture
def node(redis_urls: list[str]) -> Iterator[Callable[..., RedlockProvider]]:
    """Make started providers on the three servers (one per simulated node); shut them down after."""

    def create(**options: Any) -> RedlockProvider:
        return RedlockProvider(redis_urls, **{"lease": LEASE, "key_prefix": KEY_PREFIX, **options})

    with lock_nodes(create) as make:
        yield make


@pytest.fixture
def raw(redis_urls: list[str]) -> Iterator[list[redis.Redis]]:
    """Direct clients, to tamper with the lock keys behind the provider's back."""
    clients = [redis.Redis.from_url(url, socket_timeout=1) for url in redis_urls]
    yield clients
    for client in clients:
        client.close()


def resource() -> str:
    return f"redlock-{uuid.uuid4().hex}"


class RedisServers:
    """Gives each conformance test the server URLs (skipped or failed when they are down)."""

    urls: list[str]

    @pytest.fixture(autouse=True)
    def _redis_urls(self, redis_urls: list[str]) -> None:
        self.urls = redis_urls


class TestRedlockThreeServers(RedisServers, LeasedLockConformance):
    lease_seconds = LEASE

    def create_provider(self) -> LockProvider:
        return RedlockProvider(self.urls, lease=self.lease_seconds, key_prefix=KEY_PREFIX)

    def create_peer(self, provider: LockProvider) -> LockProvider:
        return self.create_provider()


class TestRedlockSingleServer(RedisServers, LockProviderConformance):
    def create_provider(self) -> LockProvider:
        return RedlockProvider(self.urls[0], key_prefix=KEY_PREFIX)

    def create_peer(self, provider: LockProvider) -> LockProvider:
        return self.create_provider()


def test_with_one_server_down_locks_still_exclude(
    node: Callable[..., RedlockProvider], redis_control: list[str]
) -> None:
    name = resource()
    with stopped_redis(redis_control[1]):
        first, second = node(), node()
        assert first.acquire_lock(name) is True
        assert second.acquire_lock(name) is False
        first.release_lock(name)
        assert second.acquire_lock(name) is True


def test_one_server_down_at_start_only_warns(
    node: Callable[..., RedlockProvider], redis_control: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="liteflow.redis")
    with stopped_redis(redis_control[1]):
        node()
    assert any(
        record.levelno == logging.WARNING and redis_control[1] in record.getMessage()
        for record in caplog.records
    )


def test_with_two_servers_down_acquire_fails_fast_and_leaves_nothing(
    node: Callable[..., RedlockProvider], redis_control: list[str], raw: list[redis.Redis]
) -> None:
    lock, name = node(), resource()
    with stopped_redis(redis_control[1]), stopped_redis(redis_control[2]):
        started = time.monotonic()
        assert lock.acquire_lock(name) is False
        assert time.monotonic() - started < 1.0
        assert raw[0].exists(KEY_PREFIX + name) == 0


def test_lock_whose_keys_vanished_is_reported_lost_after_renewal(
    node: Callable[..., RedlockProvider], raw: list[redis.Redis], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="liteflow.redis")
    holder, thief, name = node(), node(), resource()
    assert holder.acquire_lock(name) is True
    for client in raw:
        client.delete(KEY_PREFIX + name)
    assert thief.acquire_lock(name) is True
    wait_until(lambda: not holder.holds_lock(name), timeout=LEASE, what="the holder to notice its lost lock")
    assert thief.holds_lock(name) is True
    lost = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any(name in message and "no longer hold" in message for message in lost), lost


def test_release_never_deletes_another_holders_lock(
    node: Callable[..., RedlockProvider], raw: list[redis.Redis]
) -> None:
    former, current, name = node(), node(), resource()
    assert former.acquire_lock(name) is True
    for client in raw:
        client.delete(KEY_PREFIX + name)
    assert current.acquire_lock(name) is True
    former.release_lock(name)
    assert [client.exists(KEY_PREFIX + name) for client in raw] == [1, 1, 1]
    assert former.acquire_lock(name) is False


def test_without_renewal_the_lease_lapses(node: Callable[..., RedlockProvider]) -> None:
    holder, other, name = node(lease=0.3, renew=False), node(), resource()
    assert holder.acquire_lock(name) is True
    wait_until(lambda: not holder.holds_lock(name), timeout=1.0, what="the unrenewed lease to lapse")
    wait_until(lambda: other.acquire_lock(name), timeout=1.0, what="the lapsed lock to be free")


def test_renewal_resumes_when_started_again_after_shutdown(node: Callable[..., RedlockProvider]) -> None:
    lock, other, name = node(), node(), resource()
    lock.shutdown()
    lock.start()
    assert lock.acquire_lock(name) is True
    time.sleep(LEASE * 1.5)
    assert lock.holds_lock(name) is True
    assert other.acquire_lock(name) is False


@pytest.mark.parametrize("live, dead", [(0, DEAD_URLS[:1]), (1, DEAD_URLS)], ids=["alone", "majority"])
def test_unreachable_servers_at_start_raise_naming_them(
    redis_urls: list[str], live: int, dead: tuple[str, ...]
) -> None:
    provider = RedlockProvider([*redis_urls[:live], *dead])
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        provider.start()
    assert time.monotonic() - started < 3.0
    assert all(url in str(raised.value) for url in dead), raised.value
    assert redis_urls[0] not in str(raised.value)


@pytest.mark.parametrize(
    "urls",
    [
        "",
        [],
        "http://127.0.0.1:6390/0",
        "127.0.0.1:6390",
        "redis://127.0.0.1:port/0",
        "redis:///0",
        ["redis://127.0.0.1:6390/0", "redis://127.0.0.1:6390/0"],
    ],
)
def test_bad_urls_are_rejected_at_construction(urls: str | list[str]) -> None:
    with pytest.raises(InvalidArgumentError):
        RedlockProvider(urls)


def test_url_errors_do_not_show_the_password() -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        RedlockProvider("redis://user:s3cret@127.0.0.1:port/0")
    assert "s3cret" not in str(raised.value)
    assert "127.0.0.1" in str(raised.value)
