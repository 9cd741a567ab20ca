"""What both Azure providers share: argument checks, SDK client settings and error messages."""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from datetime import timedelta
from enum import Enum
from typing import Any, Protocol, TypeVar

from azure.core.exceptions import AzureError, HttpResponseError
from azure.storage.blob import BlobServiceClient
from azure.storage.blob import ExponentialRetry as BlobRetry
from azure.storage.queue import ExponentialRetry as QueueRetry
from azure.storage.queue import QueueServiceClient

from liteflow.core.clock import to_timedelta
from liteflow.core.errors import InvalidArgumentError, ProviderError

from .account import AccountLike, connection_string_of

__all__ = [
    "START_OPTIONS",
    "Location",
    "check_name",
    "connect",
    "describe",
    "error_code",
    "failure",
    "seconds",
    "where",
]

#: Containers and queues: lowercase letters and digits, single hyphens inside.
_NAME = re.compile(r"[a-z0-9](?:-?[a-z0-9])*")
_NAME_LENGTH = range(3, 64)

#: A dead endpoint costs a few seconds, not the SDK's default minutes of backoff; the SDK
#: still retries transient failures (timeouts, 5xx, throttling) a few times.
_CONNECTION_TIMEOUT = 3
_READ_TIMEOUT = 30
_RETRY_TOTAL = 3

#: Per-call options for the first request at ``start()``: an unreachable endpoint is reported
#: at once instead of after the retries.
START_OPTIONS: dict[str, Any] = {"retry_total": 0}

Client = TypeVar("Client", QueueServiceClient, BlobServiceClient)


class Location(Protocol):
    """The SDK client attributes that say where requests go (without any SAS token)."""

    @property
    def account_name(self) -> str | None: ...

    @property
    def scheme(self) -> str: ...

    @property
    def primary_hostname(self) -> str: ...


def seconds(value: timedelta | float, what: str) -> float:
    """A duration given as a timedelta or a number of seconds, as positive seconds."""
    try:
        result = to_timedelta(value, what).total_seconds()
    except TypeError as error:
        raise InvalidArgumentError(str(error)) from None
    if not result > 0:
        raise InvalidArgumentError(f"{what} must be positive, got {value!r}")
    return result


def check_name(what: str, name: object) -> str:
    """Fail at construction, not at ``start()``, on a name the service would refuse."""
    if not isinstance(name, str) or len(name) not in _NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"{what} {name!r} is not a valid Azure Storage name: it needs 3 to 63 lowercase "
            "letters, digits and single hyphens, starting and ending with a letter or digit"
        )
    return name


def connect(
    factory: type[Client], account: str | AccountLike, credential: Any, options: dict[str, Any]
) -> Client:
    """An SDK service client with LiteFlow's timeouts and retries, overridden by `options`.

    `account` is a connection string or an account object (see `connection_string_of`).
    Building the client sends no request, so a bad connection string is reported here and an
    unreachable endpoint at ``start()``.
    """
    connection_string = connection_string_of(account)
    if not connection_string.strip():
        raise InvalidArgumentError("an Azure Storage connection string is required, got an empty one")
    policy = QueueRetry if factory is QueueServiceClient else BlobRetry
    retry = policy(initial_backoff=1, increment_base=2, retry_total=_RETRY_TOTAL, random_jitter_range=1)
    settings: dict[str, Any] = {
        "connection_timeout": _CONNECTION_TIMEOUT,
        "read_timeout": _READ_TIMEOUT,
        "retry_policy": retry,
        **options,
    }
    try:
        client = factory.from_connection_string(connection_string, credential=credential, **settings)
    except ValueError as error:
        raise InvalidArgumentError(f"malformed Azure Storage connection string: {error}") from None
    if client.credential is None and "sig=" not in client.url:
        raise InvalidArgumentError(
            f"the Azure Storage connection string of account {client.account_name} has neither an "
            "AccountKey nor a SharedAccessSignature, and no credential was passed: LiteFlow needs "
            "write access"
        )
    key = getattr(client.credential, "account_key", None)
    if isinstance(key, str):
        try:
            b64decode(key, validate=True)
        except binascii.Error:
            raise InvalidArgumentError(
                f"the AccountKey of Azure Storage account {client.account_name} is not valid base64"
            ) from None
    return client


def where(client: Location, kind: str, name: str) -> str:
    """Names the account and endpoint for logs and errors, never a SAS token (``client.url`` has it)."""
    endpoint = f"{client.scheme}://{client.primary_hostname}"
    return f"{kind} {name!r} of Azure Storage account {client.account_name} at {endpoint}"


def error_code(error: AzureError) -> str | None:
    """The service's error code (the SDK sets it on the errors it raises, sometimes as an enum)."""
    code = getattr(error, "error_code", None)
    return str(code.value) if isinstance(code, Enum) else code


def describe(error: AzureError) -> str:
    """One line: the SDK's messages span the whole XML response."""
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        return f"HTTP {error.status_code} {error_code(error) or error.reason or ''}".rstrip()
    lines = str(error.message or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def failure(action: str, location: str, error: AzureError) -> ProviderError:
    """`location` is `where`'s description of the queue or container."""
    return ProviderError(f"{action} failed ({location}): {describe(error)}")
