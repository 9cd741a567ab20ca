"""The contract every lock provider must honour, as runnable checks."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ..providers import LockProvider
from ._suite import ProviderSuite

__all__ = ["LeasedLockConformance", "LockProviderConformance"]


class LockProviderConformance(ProviderSuite[LockProvider]):
    """Checks for `LockProvider`; implement `create_provider`.

    `create_peer` returns a provider standing for another node that competes for the same
    locks (for a single-process provider, the same instance).
    """

    def dispose_provider(self, provider: LockProvider) -> None:
        """Release what a provider made by `create_provider` holds; `shutdown()` by default."""
        provider.shutdown()

    def create_peer(self, provider: LockProvider) -> LockProvider:
        """A provider standing for another node; override for a distributed lock (by default the
        same provider, whose threads compete)."""
        return provider

    @contextmanager
    def providers(self) -> Iterator[tuple[LockProvider, LockProvider]]:
        """A provider and its peer for one check, disposed of afterwards."""
        with self.provider() as provider:
            peer = self.create_peer(provider)
            if peer is provider:
                yield provider, provider
                return
            peer.start()
            try:
                yield provider, peer
            finally:
                self.dispose_provider(peer)

    @staticmethod
    def resource() -> str:
        """A resource name no other check uses."""
        return f"conformance-{uuid.uuid4().hex}"

    def test_acquire_then_deny_while_held_then_release(self) -> None:
        with self.providers() as (lock, peer):
            name = self.resource()
            assert lock.acquire_lock(name) is True
            assert peer.acquire_lock(name) is False
            assert lock.holds_lock(name) is True
            lock.release_lock(name)
            assert peer.acquire_lock(name) is True
            peer.release_lock(name)

    def test_different_resources_do_not_block_each_other(self) -> None:
        with self.providers() as (lock, peer):
            first, second = self.resource(), self.resource()
            assert lock.acquire_lock(first) is True
            assert peer.acquire_lock(second) is True
            lock.release_lock(first)
            peer.release_lock(second)

    def test_releasing_a_lock_not_held_is_harmless(self) -> None:
        with self.providers() as (lock, _peer):
            name = self.resource()
            lock.release_lock(name)
            assert lock.acquire_lock(name) is True
            lock.release_lock(name)

    def test_only_one_thread_holds_a_lock_at_a_time(self) -> None:
        with self.providers() as (lock, peer):
            name = self.resource()
            holders = 0
            most = 0
            wins = 0
            guard = threading.Lock()

            def contend(provider: LockProvider) -> None:
                nonlocal holders, most, wins
                deadline = time.monotonic() + 2.0
                while time.monotonic() < deadline and wins < 20:
                    if provider.acquire_lock(name):
                        with guard:
                            holders += 1
                            wins += 1
                            most = max(most, holders)
                        time.sleep(0.002)
                        with guard:
                            holders -= 1
                        provider.release_lock(name)
                    else:
                        time.sleep(0.001)

            threads = [threading.Thread(target=contend, args=(lock if n % 2 else peer,)) for n in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert wins > 0
            assert most == 1

    def test_shutdown_releases_every_held_lock(self) -> None:
        provider = self.create_provider()
        provider.start()
        peer = self.create_peer(provider)
        names = [self.resource(), self.resource()]
        for name in names:
            assert provider.acquire_lock(name) is True
        provider.shutdown()
        other = peer if peer is not provider else provider
        if other is not provider:
            other.start()
        try:
            for name in names:
                assert other.acquire_lock(name) is True
                other.release_lock(name)
        finally:
            if other is not provider:
                other.shutdown()


class LeasedLockConformance(LockProviderConformance):
    """Extra checks for providers whose locks are leases renewed in the background.

    `create_provider` must configure a short lease of `lease_seconds`.
    """

    lease_seconds: float = 2.0

    def test_lock_outlives_its_lease_while_renewed(self) -> None:
        with self.providers() as (lock, peer):
            name = self.resource()
            assert lock.acquire_lock(name) is True
            time.sleep(self.lease_seconds * 1.5)
            assert lock.holds_lock(name) is True
            assert peer.acquire_lock(name) is False
            lock.release_lock(name)
