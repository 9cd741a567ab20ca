"""Redlock: workflow locks over one or more independent Redis servers.

A single Redis server is a single point of failure for the whole cluster's mutual exclusion;
with N independent servers a lock is held when a majority grant it, so it survives a minority
failing. With one URL this is a plain single-server lock.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.providers import LockProvider

__all__ = ["RedlockProvider"]

_log = logging.getLogger("liteflow.redis")

T = TypeVar("T")

# Delete or extend the key only while it still holds our token, so a lock that expired and
# was taken by another node is never released or prolonged by its former holder.
_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
_EXTEND_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

#: Added to the clock drift: Redis expires keys with millisecond precision.
_DRIFT_FLOOR_SECONDS = 0.002
#: Bounds of the random pause between acquisition attempts, so competing nodes desynchronise.
_RETRY_DELAY_SECONDS = (0.05, 0.2)
_SCHEMES = ("redis", "rediss")

_Call = tuple[str, Sequence[str | int]]


@dataclass
class _Server:
    address: str
    client: redis.Redis
    error: RedisError | None = None


@dataclass
class _Lease:
    token: str
    valid_until: float
    lost: bool = False


class RedlockProvider(LockProvider):
    """A `LockProvider` implementing the Redlock algorithm with background lease renewal.

    `urls` is one ``redis://``/``rediss://`` URL, several separated by commas, or a sequence of
    them, each naming an independent server. A lock is a key ``key_prefix + resource`` set to a
    random token with a `lease` (seconds or timedelta) expiry; while held, one daemon thread
    renews every lock at a third of the lease, and a lock whose renewal fails is reported lost
    by `holds_lock`. `retry_count` extra attempts, after a short random pause, are made when
    acquisition fails. `socket_timeout` bounds every exchange with one server, so a dead server
    costs at most that much.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        lease: timedelta | float = 30,
        retry_count: int = 0,
        clock_drift_factor: float = 0.01,
        key_prefix: str = "liteflow:lock:",
        renew: bool = True,
        *,
        socket_timeout: float = 0.1,
    ) -> None:
        seconds = lease.total_seconds() if isinstance(lease, timedelta) else lease
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            raise InvalidArgumentError(f"lease must be a positive number of seconds, got {lease!r}")
        if isinstance(retry_count, bool) or not isinstance(retry_count, int) or retry_count < 0:
            raise InvalidArgumentError(f"retry_count must be an int >= 0, got {retry_count!r}")
        if not 0 <= clock_drift_factor < 1:
            raise InvalidArgumentError(f"clock_drift_factor must be in [0, 1), got {clock_drift_factor!r}")
        if not isinstance(key_prefix, str):
            raise InvalidArgumentError(f"key_prefix must be a str, got {key_prefix!r}")
        if not socket_timeout > 0:
            raise InvalidArgumentError(f"socket_timeout must be positive, got {socket_timeout!r}")
        self._ttl_ms = round(seconds * 1000)
        self._lease_seconds = self._ttl_ms / 1000
        self._validity = self._lease_seconds * (1 - clock_drift_factor) - _DRIFT_FLOOR_SECONDS
        if self._validity <= 0:
            raise InvalidArgumentError(
                f"lease {lease!r} is too short to leave any validity after clock drift"
            )
        self._servers = [_connect(url, socket_timeout) for url in _split_urls(urls)]
        self._quorum = len(self._servers) // 2 + 1
        self._retry_count = retry_count
        self._key_prefix = key_prefix
        self._renew = renew
        self._guard = threading.Lock()
        self._held: dict[str, _Lease] = {}
        self._lifecycle = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def start(self) -> None:
        """Fail fast when no majority answers; start the renewal thread."""
        with self._lifecycle:
            down = [server for server in self._servers if not self._call(server, "PING", server.client.ping)]
            if len(self._servers) - len(down) < self._quorum:
                raise ProviderError(
                    f"Redlock needs {self._quorum} of {len(self._servers)} Redis servers, "
                    f"unreachable: {_describe(down)}"
                )
            if down:
                _log.warning(
                    "Redlock starting with %d of %d Redis servers, unreachable: %s",
                    len(self._servers) - len(down),
                    len(self._servers),
                    _describe(down),
                )
            if self._renew and self._renewer is None:
                self._stop = threading.Event()
                self._renewer = threading.Thread(
                    target=self._renew_until, args=(self._stop,), name="liteflow-redlock-renewal", daemon=True
                )
                self._renewer.start()

    def acquire_lock(self, resource: str) -> bool:
        key = self._key(resource)
        for attempt in range(self._retry_count + 1):
            if attempt:
                time.sleep(random.uniform(*_RETRY_DELAY_SECONDS))
            token = secrets.token_hex(16)
            started = time.monotonic()
            granted = sum(
                1
                for server in self._servers
                if self._call(server, "SET", partial(server.client.set, key, token, nx=True, px=self._ttl_ms))
            )
            valid_until = started + self._validity
            if granted >= self._quorum and time.monotonic() < valid_until:
                with self._guard:
                    self._held[resource] = _Lease(token, valid_until)
                return True
            self._run_everywhere("release", _RELEASE_SCRIPT, [(key, [token])])
        return False

    def release_lock(self, resource: str) -> None:
        with self._guard:
            lease = self._held.pop(resource, None)
        if lease is not None:
            self._run_everywhere("release", _RELEASE_SCRIPT, [(self._key(resource), [lease.token])])

    def holds_lock(self, resource: str) -> bool:
        with self._guard:
            lease = self._held.get(resource)
            return lease is not None and not self._expire(resource, lease, time.monotonic())

    def shutdown(self) -> None:
        """Stop renewing, release every held lock and close the connections (reopened on reuse)."""
        with self._lifecycle:
            self._stop.set()
            if self._renewer is not None:
                self._renewer.join()
                self._renewer = None
            with self._guard:
                held, self._held = self._held, {}
            if held:
                self._run_everywhere(
                    "release",
                    _RELEASE_SCRIPT,
                    [(self._key(name), [lease.token]) for name, lease in held.items()],
                )
            for server in self._servers:
                server.client.connection_pool.disconnect()

    def _key(self, resource: str) -> str:
        return self._key_prefix + resource

    def _renew_until(self, stop: threading.Event) -> None:
        while not stop.wait(self._lease_seconds / 3):
            try:
                self._renew_all()
            except Exception:
                _log.exception("Redlock renewal round failed; leases expire unless the next one succeeds")

    def _renew_all(self) -> None:
        now = time.monotonic()
        with self._guard:
            batch = [
                (name, lease.token)
                for name, lease in self._held.items()
                if not self._expire(name, lease, now)
            ]
        if not batch:
            return
        started = time.monotonic()
        answers = self._run_everywhere(
            "renewal", _EXTEND_SCRIPT, [(self._key(name), [token, self._ttl_ms]) for name, token in batch]
        )
        valid_until = started + self._validity
        finished = time.monotonic()
        with self._guard:
            for index, (name, token) in enumerate(batch):
                lease = self._held.get(name)
                if lease is None or lease.token != token or lease.lost:
                    continue
                replies = [server_answers[index] for server_answers in answers if server_answers is not None]
                if replies.count(1) >= self._quorum and finished < valid_until:
                    lease.valid_until = valid_until
                elif replies.count(0) > len(self._servers) - self._quorum:
                    self._lose(
                        name, lease, f"{replies.count(0)} of {len(self._servers)} servers no longer hold it"
                    )

    def _expire(self, resource: str, lease: _Lease, now: float) -> bool:
        """Whether `lease` is lost, marking it so once its validity has run out; hold `_guard`."""
        if not lease.lost and now >= lease.valid_until:
            self._lose(resource, lease, "its lease ran out before it was renewed")
        return lease.lost

    def _lose(self, resource: str, lease: _Lease, why: str) -> None:
        lease.lost = True
        _log.warning(
            "Redlock lost the lock on %r: %s (servers: %s)",
            resource,
            why,
            ", ".join(server.address for server in self._servers),
        )

    def _run_everywhere(self, what: str, script: str, calls: Sequence[_Call]) -> list[list[Any] | None]:
        """Run `calls` on every server, one round trip each; per server, its replies or None."""

        def run(server: _Server) -> list[Any]:
            with server.client.pipeline(transaction=False) as pipe:
                for key, args in calls:
                    pipe.eval(script, 1, key, *args)
                return pipe.execute(raise_on_error=False)

        return [self._call(server, what, partial(run, server)) for server in self._servers]

    def _call(self, server: _Server, what: str, action: Callable[[], T]) -> T | None:
        """`action`'s result, or None when the server failed (logged at DEBUG, and at WARNING
        when the server's health changes)."""
        try:
            result = action()
        except RedisError as error:
            _log.debug("Redis %s on %s failed: %s", what, server.address, error)
            self._set_health(server, error)
            return None
        self._set_health(server, None)
        return result

    def _set_health(self, server: _Server, error: RedisError | None) -> None:
        with self._guard:
            was_failing = server.error is not None
            server.error = error
        if error is not None and not was_failing:
            _log.warning("Redis server %s is failing: %s", server.address, error)
        elif error is None and was_failing:
            _log.warning("Redis server %s answers again", server.address)


def _describe(servers: Sequence[_Server]) -> str:
    return "; ".join(f"{server.address} ({server.error})" for server in servers)


def _split_urls(urls: str | Sequence[str]) -> list[str]:
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    if not all(isinstance(url, str) for url in items):
        raise InvalidArgumentError(f"Redis URLs must be strings, got {[type(url).__name__ for url in items]}")
    cleaned = [url.strip() for url in items]
    if not cleaned or not all(cleaned):
        raise InvalidArgumentError("at least one Redis URL is required and none may be empty")
    if len(set(cleaned)) != len(cleaned):
        raise InvalidArgumentError("the same Redis URL is given twice; Redlock needs independent servers")
    return cleaned


def _address(url: str) -> str:
    """Check `url`; return it without its password, for messages and logs."""
    shown = re.sub(r"//[^@/]*@", "//***@", url)
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise InvalidArgumentError(f"malformed Redis URL {shown!r}: {error}") from None
    if parts.scheme not in _SCHEMES or not url.startswith(f"{parts.scheme}://"):
        raise InvalidArgumentError(f"Redis URL {shown!r} must start with redis:// or rediss://")
    if not parts.hostname:
        raise InvalidArgumentError(f"Redis URL {shown!r} names no host")
    return shown


def _connect(url: str, socket_timeout: float) -> _Server:
    address = _address(url)
    try:
        client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as error:
        raise InvalidArgumentError(f"malformed Redis URL {address!r}: {error}") from None
    return _Server(address, client)
