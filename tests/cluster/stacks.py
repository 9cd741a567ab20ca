"""Provider stacks (persistence + queue + lock) for cluster runs, isolated per run.

Every process of one run (hosts, drivers, the test itself) builds its providers from the same
`Run`, so they share one store, one pair of queues and one lock namespace, and no two runs ever
see each other's work. Server addresses come from the same environment variables as the
provider tests, with the same defaults.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from liteflow.core import (
    LocalLockProvider,
    LockProvider,
    PersistenceProvider,
    QueueProvider,
    SingleNodeQueueProvider,
    WorkflowHost,
    configure_workflow_host,
)
from tests.servers import (
    AZURE_CONNECTION_STRING_ENV,
    AZURE_DEFAULT_CONNECTION_STRING,
    MONGO_DEFAULT_URI,
    MONGO_URI_ENV,
    POSTGRES_DEFAULT_URL,
    POSTGRES_URL_ENV,
    RABBITMQ_DEFAULT_URL,
    RABBITMQ_URL_ENV,
    REDIS_DEFAULT_URLS,
    REDIS_URLS_ENV,
    delete_rabbitmq_queues,
    drop_database,
    postgres_admin,
    server_address,
)

__all__ = ["STACKS", "Run", "Stack"]

#: Lock leases (seconds) by lock kind. Long ones outlast any stall of a loaded test machine, so a
#: healthy cluster never loses a lock and runs each step once; short ones (Azure's shortest) let
#: the locks of a killed host expire soon, at the risk that a stall makes a live host lose one.
LONG_LEASES = {"redlock": 60, "azure": 60}
SHORT_LEASES = {"redlock": 5, "azure": 15}
#: A message taken by a killed host reappears this soon (the pollers find its work anyway).
AZURE_VISIBILITY_SECONDS = 10
#: How often each host's poller looks for due work: a killed host's, or a driver's on the single
#: node stack (whose queue lives in the driver's memory). Every poll re-queues every due instance,
#: and on the MongoDB wire server (one request at a time) that backlog of duplicates slowed a
#: 300-instance run by half; on PostgreSQL a 1 s poll queued each workflow 5.3 times instead
#: of once (its queue is durable: the pollers only recover). So MongoDB and PostgreSQL runs poll
#: often only when a host is to be killed.
POLL_INTERVALS = {
    "sqlite": timedelta(seconds=1),
    "mongo": timedelta(seconds=60),
    "postgres": timedelta(seconds=60),
}
RECOVERY_POLL_INTERVALS = {
    "sqlite": timedelta(seconds=1),
    "mongo": timedelta(seconds=30),
    "postgres": timedelta(seconds=1),
}
#: An item taken by a killed host comes back this soon on the PostgreSQL queue.
POSTGRES_VISIBILITY_SECONDS = 10


@dataclass(frozen=True)
class Stack:
    persistence: str
    queue: str
    lock: str


STACKS = {
    "sqlite": Stack("sqlite", "local", "local"),
    "sqlite+rabbitmq+redlock": Stack("sqlite", "rabbitmq", "redlock"),
    "mongo+azure": Stack("mongo", "azure", "azure"),
    "mongo+rabbitmq+redlock": Stack("mongo", "rabbitmq", "redlock"),
    "postgres": Stack("postgres", "postgres", "postgres"),
}


@dataclass(frozen=True)
class Run:
    """One test run: its stack, a unique id naming its server-side resources, and its folder
    (journals, logs, the SQLite file)."""

    stack_name: str
    run_id: str
    workdir: Path
    #: For runs that kill a host: short leases and frequent polls, so its work is taken over soon.
    fast_recovery: bool = False

    @property
    def stack(self) -> Stack:
        return STACKS[self.stack_name]

    @property
    def sqlite_path(self) -> Path:
        return self.workdir / "liteflow.db"

    @property
    def mongo_database(self) -> str:
        return f"liteflow_cluster_{self.run_id}"

    @property
    def postgres_database(self) -> str:
        return f"liteflow_cluster_{self.run_id}"

    @property
    def postgres_dsn(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(_postgres_server(), dbname=self.postgres_database)

    @property
    def queue_prefix(self) -> str:
        return f"liteflow-cluster-{self.run_id}"

    @property
    def lock_prefix(self) -> str:
        return f"liteflow:cluster:{self.run_id}:"

    @property
    def lock_container(self) -> str:
        return f"liteflow-cluster-{self.run_id}"

    def persistence(self) -> PersistenceProvider:
        kind = self.stack.persistence
        if kind == "sqlite":
            from liteflow.core.sqlite import SqlitePersistenceProvider

            return SqlitePersistenceProvider(self.sqlite_path)
        if kind == "postgres":
            from liteflow_postgres import PostgresPersistenceProvider

            return PostgresPersistenceProvider(self.postgres_dsn)
        from liteflow_mongo import MongoPersistenceProvider

        return MongoPersistenceProvider(server_address(MONGO_URI_ENV, MONGO_DEFAULT_URI), self.mongo_database)

    def queue(self) -> QueueProvider:
        kind = self.stack.queue
        if kind == "local":
            return SingleNodeQueueProvider()
        if kind == "postgres":
            from liteflow_postgres import PostgresQueueProvider

            return PostgresQueueProvider(self.postgres_dsn, visibility_timeout=POSTGRES_VISIBILITY_SECONDS)
        if kind == "azure":
            from liteflow_azure import AzureQueueProvider

            return AzureQueueProvider(
                _azure_connection_string(),
                queue_prefix=self.queue_prefix,
                visibility_timeout=AZURE_VISIBILITY_SECONDS,
            )
        from liteflow_rabbitmq import RabbitMQQueueProvider

        return RabbitMQQueueProvider(
            server_address(RABBITMQ_URL_ENV, RABBITMQ_DEFAULT_URL), queue_prefix=self.queue_prefix
        )

    def lock(self) -> LockProvider:
        kind = self.stack.lock
        if kind == "local":
            return LocalLockProvider()
        if kind == "postgres":
            from liteflow_postgres import PostgresLockProvider

            return PostgresLockProvider(self.postgres_dsn)
        if kind == "azure":
            from liteflow_azure import AzureLockProvider

            return AzureLockProvider(
                _azure_connection_string(), container=self.lock_container, lease_duration=self._lease(kind)
            )
        from liteflow_redis import RedlockProvider

        return RedlockProvider(
            server_address(REDIS_URLS_ENV, REDIS_DEFAULT_URLS),
            lease=self._lease(kind),
            key_prefix=self.lock_prefix,
        )

    def _lease(self, kind: str) -> int:
        return (SHORT_LEASES if self.fast_recovery else LONG_LEASES)[kind]

    def host(self) -> WorkflowHost:
        return configure_workflow_host(
            self.persistence(),
            self.queue(),
            self.lock(),
            poll_interval=(RECOVERY_POLL_INTERVALS if self.fast_recovery else POLL_INTERVALS)[
                self.stack.persistence
            ],
            default_error_retry_interval=timedelta(seconds=1),
            shutdown_timeout=timedelta(seconds=10),
        )

    def create_server_resources(self) -> None:
        """What every process of the run needs before it starts: the run's PostgreSQL database
        (the other servers create what is missing on first use)."""
        if self.stack.persistence == "postgres":
            postgres_admin(_postgres_server(), f'CREATE DATABASE "{self.postgres_database}"')

    def remove_server_resources(self) -> None:
        """Delete what this run created on the servers (the SQLite file goes with `workdir`); what
        a run that failed early never created is skipped."""
        stack = self.stack
        if stack.persistence == "postgres":
            postgres_admin(
                _postgres_server(), f'DROP DATABASE IF EXISTS "{self.postgres_database}" WITH (FORCE)'
            )
        if stack.persistence == "mongo":
            drop_database(server_address(MONGO_URI_ENV, MONGO_DEFAULT_URI), self.mongo_database)
        if stack.queue == "rabbitmq":
            from liteflow_rabbitmq import RabbitMQQueueProvider

            queue = self.queue()
            assert isinstance(queue, RabbitMQQueueProvider)
            delete_rabbitmq_queues(
                server_address(RABBITMQ_URL_ENV, RABBITMQ_DEFAULT_URL), queue.queue_names.values()
            )
        if stack.queue == "azure":
            from azure.core.exceptions import ResourceNotFoundError
            from azure.storage.queue import QueueServiceClient

            from liteflow_azure import AzureQueueProvider

            queues = self.queue()
            assert isinstance(queues, AzureQueueProvider)
            with QueueServiceClient.from_connection_string(_azure_connection_string()) as service:
                for name in queues.queue_names.values():
                    with suppress(ResourceNotFoundError):
                        service.delete_queue(name)
        if stack.lock == "azure":
            from azure.core.exceptions import ResourceNotFoundError
            from azure.storage.blob import BlobServiceClient

            with (
                BlobServiceClient.from_connection_string(_azure_connection_string()) as blobs,
                suppress(ResourceNotFoundError),
            ):
                blobs.delete_container(self.lock_container)
        if stack.lock == "redlock":
            import redis

            for url in server_address(REDIS_URLS_ENV, REDIS_DEFAULT_URLS).split(","):
                with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
                    keys = list(client.scan_iter(match=f"{self.lock_prefix}*"))
                    if keys:
                        client.delete(*keys)


def _postgres_server() -> str:
    return server_address(POSTGRES_URL_ENV, POSTGRES_DEFAULT_URL)


def _azure_connection_string() -> str:
    return server_address(AZURE_CONNECTION_STRING_ENV, AZURE_DEFAULT_CONNECTION_STRING)
