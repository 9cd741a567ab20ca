"""What every conformance suite shares: a fresh, started provider per check, disposed of after."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar


class _Startable(Protocol):
    def start(self) -> None: ...


ProviderT = TypeVar("ProviderT", bound=_Startable)


class ProviderSuite(Generic[ProviderT]):
    """Implement `create_provider`; `dispose_provider` releases what it holds."""

    def create_provider(self) -> ProviderT:
        raise NotImplementedError("return a new provider, with nothing stored, queued or locked")

    def dispose_provider(self, provider: ProviderT) -> None:
        raise NotImplementedError

    @contextmanager
    def provider(self) -> Iterator[ProviderT]:
        provider = self.create_provider()
        provider.start()
        try:
            yield provider
        finally:
            self.dispose_provider(provider)


def race(count: int, attempt: Callable[[int], bool]) -> list[int]:
    """Run `attempt(n)` on `count` threads released at once; the numbers that succeeded."""
    barrier = threading.Barrier(count)
    won: list[int] = []
    failures: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait()
            if attempt(number):
                won.append(number)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], failures
    return won
