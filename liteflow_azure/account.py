"""Storage accounts given as liteflow.core 0.3.1 gave them: an object with ``account_name``,
``account_key`` and ``is_emulated`` (the retired SDK's ``CloudStorageAccount``), turned into the
connection string the v12 SDK takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from liteflow.core.errors import InvalidArgumentError

__all__ = ["AccountLike", "StorageAccount", "connection_string_of"]

#: The SDK's name for the emulator's (Azurite's) well-known development account on its default
#: ports, as ``is_emulated`` meant in the retired SDK.
_EMULATOR_CONNECTION_STRING = "UseDevelopmentStorage=true"
_DEFAULT_ENDPOINT_SUFFIX = "core.windows.net"
_REQUIRED = ("account_name", "account_key", "is_emulated")


class AccountLike(Protocol):
    """What the providers read from an account object; ``sas_token`` and ``endpoint_suffix`` are
    read too when present, as ``CloudStorageAccount`` has them."""

    @property
    def account_name(self) -> str | None: ...

    @property
    def account_key(self) -> str | None: ...

    @property
    def is_emulated(self) -> bool | None: ...


@dataclass(frozen=True)
class StorageAccount:
    """An account as the original's Azure providers took it, without the retired SDK: same
    keywords as ``CloudStorageAccount`` (``StorageAccount(is_emulated=True)`` is Azurite)."""

    account_name: str | None = None
    account_key: str | None = None
    sas_token: str | None = None
    is_emulated: bool = False
    endpoint_suffix: str | None = None


def connection_string_of(account: str | AccountLike) -> str:
    """`account` itself when it is a connection string, else the account's connection string."""
    if isinstance(account, str):
        return account
    missing = [name for name in _REQUIRED if not hasattr(account, name)]
    if missing:
        raise InvalidArgumentError(
            "expected an Azure Storage connection string or an account object with account_name, "
            f"account_key and is_emulated; got {type(account).__name__}, which has no {', '.join(missing)}"
        )
    if account.is_emulated:
        return _EMULATOR_CONNECTION_STRING
    name = account.account_name
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(
            f"the Azure Storage account object needs an account_name (or is_emulated=True), got {name!r}"
        )
    settings = {
        "DefaultEndpointsProtocol": "https",
        "AccountName": name,
        "EndpointSuffix": getattr(account, "endpoint_suffix", None) or _DEFAULT_ENDPOINT_SUFFIX,
    }
    sas_token = getattr(account, "sas_token", None)
    if account.account_key:
        settings["AccountKey"] = account.account_key.strip()
    elif sas_token:
        settings["SharedAccessSignature"] = sas_token.lstrip("?")
    return ";".join(f"{key}={value}" for key, value in settings.items())
