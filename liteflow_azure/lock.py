"""Blob leases as LiteFlow's distributed lock, so that two nodes never run one workflow at once."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient

from liteflow.core.errors import InvalidArgumentError, ProviderError
from liteflow.core.providers import LockProvider

from ._storage import START_OPTIONS, check_name, connect, describe, error_code, failure, seconds, where
from .account import AccountLike

__all__ = ["AzureLockProvider", "blob_name"]

_log = logging.getLogger("liteflow.azure")

#: The lease durations Azure accepts, in seconds (infinite leases would outlive a dead node).
_LEASE_RANGE = range(15, 61)
_MAX_BLOB_NAME = 1024
#: Acquiring fails with these while another lease holds the blob (a broken one until its break
#: period ends).
_HELD_ELSEWHERE = {"LeaseAlreadyPresent", "LeaseIsBreakingAndCannotBeAcquired"}
#: Releasing fails with these once the lease is no longer ours: nothing left to give back.
_NOT_OURS = {"LeaseIdMismatchWithLeaseOperation", "LeaseNotPresentWithLeaseOperation", "BlobNotFound"}


def blob_name(resource: str) -> str:
    """The name of the blob whose lease is the lock on `resource`.

    Readable where possible: `resource` percent-encoded except for ASCII letters, digits, ``-``
    and ``_``, so ``:`` ``/`` ``.`` and the like never make folders or invalid names. A name
    whose encoding would be empty or longer than Azure's 1024 characters becomes
    ``sha256.<hex digest>``, which no encoding can collide with (every ``.`` is encoded).
    """
    encoded = quote(resource, safe="-_").replace(".", "%2E").replace("~", "%7E")
    if 0 < len(encoded) <= _MAX_BLOB_NAME:
        return encoded
    return "sha256." + hashlib.sha256(resource.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Lease:
    blob: BlobClient
    lease_id: str
    #: When the lease runs out unless renewed (monotonic clock); guarded by the provider's lock.
    valid_until: float
    lost: bool = False
    #: Held during each renew or release request, so a renewal never revives a released lease.
    busy: threading.Lock = field(default_factory=threading.Lock)
    released: bool = False


class AzureLockProvider(LockProvider):
    """A `LockProvider` on Azure blob leases: the lock on a resource is a lease on one empty
    blob (see `blob_name`) in `container`, which `start` creates, private, if missing.

    A lease lasts `lease_duration` seconds (15 to 60, as Azure allows), so the locks of a node
    that died free themselves within that time. While held, one background thread renews every
    lease each `renew_interval` (default a third of the lease). A lease that could not be
    renewed, or that ran out, is logged at WARNING and `holds_lock` returns False from then on,
    so the host discards that pass instead of persisting under a stale lock. Lock blobs are kept
    after release (an empty blob per resource) so the next acquisition is one request.

    `connection_string` (or an account object), `credential` and `client_options` are as for
    `AzureQueueProvider`.
    """

    def __init__(
        self,
        connection_string: str | AccountLike,
        credential: Any = None,
        container: str = "liteflow-locks",
        lease_duration: int = 60,
        renew_interval: float | None = None,
        **client_options: Any,
    ) -> None:
        if (
            isinstance(lease_duration, bool)
            or not isinstance(lease_duration, int)
            or (lease_duration not in _LEASE_RANGE)
        ):
            raise InvalidArgumentError(
                f"lease_duration must be a whole number of seconds from 15 to 60, got {lease_duration!r}"
            )
        interval = lease_duration / 3 if renew_interval is None else seconds(renew_interval, "renew_interval")
        if interval >= lease_duration:
            raise InvalidArgumentError(
                f"renew_interval ({interval} s) must be shorter than lease_duration ({lease_duration} s)"
            )
        self._lease_duration = lease_duration
        self._renew_interval = interval
        check_name("container", container)
        self._service = connect(BlobServiceClient, connection_string, credential, client_options)
        self._container = self._service.get_container_client(container)
        #: The container, account and endpoint, for messages.
        self._location = where(self._container, "container", container)
        self._guard = threading.Lock()
        self._held: dict[str, _Lease] = {}
        self._lifecycle = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def start(self) -> None:
        """Create the container if missing and start renewing; an unreachable account fails
        here, within seconds."""
        with self._lifecycle:
            self._ensure_container()
            if self._renewer is None:
                self._stop = threading.Event()
                self._renewer = threading.Thread(
                    target=self._renew_until,
                    args=(self._stop,),
                    name="liteflow-azure-lease-renewal",
                    daemon=True,
                )
                self._renewer.start()

    def acquire_lock(self, resource: str) -> bool:
        with self._guard:
            if resource in self._held:
                return False
        blob = self._container.get_blob_client(blob_name(resource))
        lease_id = str(uuid.uuid4())
        started = time.monotonic()
        try:
            self._lease(blob, lease_id)
        except ResourceExistsError as error:
            if error_code(error) in _HELD_ELSEWHERE:
                return False
            raise self._failure(f"leasing the lock on {resource!r}", error) from error
        except AzureError as error:
            raise self._failure(f"leasing the lock on {resource!r}", error) from error
        with self._guard:
            self._held[resource] = _Lease(blob, lease_id, started + self._lease_duration)
        return True

    def release_lock(self, resource: str) -> None:
        with self._guard:
            lease = self._held.pop(resource, None)
        if lease is None:
            return
        with lease.busy:
            lease.released = True
            try:
                BlobLeaseClient(lease.blob, lease.lease_id).release()
            except HttpResponseError as error:
                if error_code(error) not in _NOT_OURS:
                    self._warn_unreleased(resource, error)
            except AzureError as error:
                self._warn_unreleased(resource, error)

    def holds_lock(self, resource: str) -> bool:
        with self._guard:
            lease = self._held.get(resource)
            if lease is None:
                return False
            if not lease.lost and time.monotonic() >= lease.valid_until:
                self._lose(resource, lease, "it ran out before it could be renewed")
            return not lease.lost

    def shutdown(self) -> None:
        """Stop renewing and release every lease; `start` may be called again."""
        with self._lifecycle:
            self._stop.set()
            if self._renewer is not None:
                self._renewer.join()
                self._renewer = None
            with self._guard:
                held = list(self._held)
            for resource in held:
                self.release_lock(resource)

    def _ensure_container(self) -> None:
        try:
            self._container.create_container(public_access=None, **START_OPTIONS)
            return
        except ResourceExistsError:
            pass
        except AzureError as error:
            raise self._failure("creating the container", error) from error
        try:
            access = self._container.get_container_access_policy()["public_access"]
        except AzureError as error:
            raise self._failure("reading the container's access policy", error) from error
        if access is not None:
            _log.warning(
                "%s is publicly readable (public access %r); LiteFlow's lock containers should be "
                "private: set its public access to none",
                self._location,
                access,
            )

    def _lease(self, blob: BlobClient, lease_id: str) -> None:
        """Lease `blob`, creating it first when it does not exist yet."""
        lease = BlobLeaseClient(blob, lease_id)
        try:
            lease.acquire(lease_duration=self._lease_duration)
            return
        except ResourceNotFoundError as error:
            if error_code(error) != "BlobNotFound":
                raise
        with contextlib.suppress(ResourceExistsError):
            blob.upload_blob(b"", overwrite=False)
        lease.acquire(lease_duration=self._lease_duration)

    def _renew_until(self, stop: threading.Event) -> None:
        while not stop.wait(self._renew_interval):
            with self._guard:
                held = list(self._held.items())
            for resource, lease in held:
                if stop.is_set():
                    return
                try:
                    self._renew(resource, lease)
                except Exception:
                    _log.exception(
                        "renewing the lease on %r failed unexpectedly (%s)", resource, self._location
                    )

    def _renew(self, resource: str, lease: _Lease) -> None:
        with lease.busy:
            if lease.released or lease.lost:
                return
            started = time.monotonic()
            try:
                BlobLeaseClient(lease.blob, lease.lease_id).renew()
            except AzureError as error:
                with self._guard:
                    self._lose(resource, lease, f"renewing it failed: {describe(error)}")
                return
        with self._guard:
            lease.valid_until = started + self._lease_duration

    def _lose(self, resource: str, lease: _Lease, why: str) -> None:
        """Mark `lease` lost, once; hold `_guard`."""
        if lease.lost:
            return
        lease.lost = True
        _log.warning("lost the lock on %r (%s): %s", resource, self._location, why)

    def _failure(self, action: str, error: AzureError) -> ProviderError:
        return failure(action, self._location, error)

    def _warn_unreleased(self, resource: str, error: AzureError) -> None:
        _log.warning(
            "could not release the lock on %r (%s): %s; it frees itself within %d s",
            resource,
            self._location,
            describe(error),
            self._lease_duration,
        )
