"""What every conformance suite shares: a fresh, started provider per check, disposed of after."""

from __future__ import annotations

from collections.abc import Iterator
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
