"""What an operator's tool does with a store and, when it has one, the application's host."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from liteflow.core.clock import MAX_TIME
from liteflow.core.configure import configure_workflow_host
from liteflow.core.definition import WorkflowDefinition
from liteflow.core.errors import InvalidArgumentError, WorkflowNotFoundError
from liteflow.core.host import WorkflowHost
from liteflow.core.providers import PersistenceProvider
from liteflow.core.queries import WorkflowQuery, WorkflowSummary, summary_of
from liteflow.core.records import Event, EventSubscription, ExecutionPointer, WorkflowInstance

from ._app import load_app
from ._documents import StoredDocumentSerializer
from ._stores import open_store
from ._views import instance_view

__all__ = ["Operator", "StuckReport"]

#: Poll intervals after which a due instance nobody ran counts as stuck.
STUCK_POLLS = 3
#: Archived pointers (see liteflow.core.history) an instance's view shows at most.
HISTORY_SHOWN = 500


@dataclass
class StuckReport:
    """What an operator looks at first."""

    #: Runnable instances due longer ago than the threshold: no node picks them up.
    overdue: list[WorkflowSummary] = field(default_factory=list)
    #: Events unprocessed for longer than the threshold.
    events: list[Event] = field(default_factory=list)
    #: Suspended instances with recorded errors, each with its latest error message.
    failed: list[tuple[WorkflowSummary, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether nothing was found: `liteflow stuck` then exits 0."""
        return not (self.overdue or self.events or self.failed)


class Operator:
    """Reads a store and acts on its instances through a host's actions.

    `owned`: the operator started the host's providers (and stops them in `close`); an
    application's running host passed in is left alone.
    """

    def __init__(self, host: WorkflowHost, *, owned: bool = False) -> None:
        self.host = host
        self._owned = owned

    @classmethod
    def open(cls, store_url: str | None, app: str | None) -> Operator:
        """The store at `store_url` read as stored documents, with the application's
        definitions, queue and locks when `app` (``module:attribute``) is given; or the
        application's host itself when only `app` is."""
        application = None if app is None else load_app(app)
        if store_url is None:
            if application is None:
                raise InvalidArgumentError("a store URL or an application (module:attribute) is needed")
            host = application
        else:
            store = open_store(store_url, StoredDocumentSerializer())
            if application is None:
                host = configure_workflow_host(store)
            else:
                host = WorkflowHost(
                    store, application.queue_service, application.lock_service, application.options
                )
                for definition in application.registry.definitions():
                    host.registry.add_definition(definition)
        operator = cls(host, owned=True)
        operator.start()
        return operator

    @property
    def store(self) -> PersistenceProvider:
        """The store the operator reads and writes, the host's persistence provider."""
        return self.host.persistence_service

    def start(self) -> None:
        """Connect the store, queue and locks (not the workers)."""
        self.store.start()
        self.host.queue_service.start()
        self.host.lock_service.start()

    def close(self) -> None:
        """Disconnect what the operator opened itself; an application's running host is left alone."""
        if self._owned:
            self.host.queue_service.shutdown()
            self.host.lock_service.shutdown()
            self.store.close()

    def __enter__(self) -> Operator:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def find(self, query: WorkflowQuery) -> list[WorkflowSummary]:
        """Summaries of the instances a query selects, without loading their payloads."""
        return self.store.find_workflows(query)

    def instance(self, workflow_id: str) -> WorkflowInstance:
        """The stored instance; raises `WorkflowNotFoundError` when there is none."""
        return self.host.get_workflow_instance(workflow_id)

    def definition_of(self, instance: WorkflowInstance) -> WorkflowDefinition | None:
        """The registered definition the instance runs, or None without the application or that
        version."""
        registry = self.host.registry
        if registry.is_registered(instance.workflow_definition_id, instance.version):
            return registry.get_definition(instance.workflow_definition_id, instance.version)
        return None

    def definitions(self) -> list[WorkflowDefinition]:
        """The application's registered definitions (none without `--app`)."""
        return self.host.registry.definitions()

    def view(self, instance: WorkflowInstance) -> dict[str, Any]:
        """Everything `show` and the instance page show: the instance, its errors and
        subscriptions, and the pointers that left it for its history (the oldest
        `HISTORY_SHOWN` of them; the view says when there are more)."""
        history = self.store.get_pointer_history(instance.id, take=HISTORY_SHOWN + 1)
        return instance_view(
            instance,
            self.definition_of(instance),
            self.store.get_errors(instance.id),
            self.subscriptions(instance),
            history[:HISTORY_SHOWN],
            more_history=len(history) > HISTORY_SHOWN,
        )

    def subscriptions(self, instance: WorkflowInstance) -> list[EventSubscription]:
        """The active subscriptions of the instance's waiting steps."""
        found: dict[str, EventSubscription] = {}
        waits = {
            (pointer.event_name, pointer.event_key)
            for pointer in instance.execution_pointers
            if pointer.status == ExecutionPointer.WAITING and pointer.event_name and pointer.end_time is None
        }
        for name, key in sorted(waits, key=str):
            for subscription in self.store.get_subscriptions(name or "", key, MAX_TIME):
                if subscription.workflow_id == instance.id:
                    found[subscription.id] = subscription
        return list(found.values())

    def event(self, event_id: str) -> Event:
        """The stored event; raises `WorkflowNotFoundError` when there is none."""
        event = self.store.get_event(event_id)
        if event is None:
            raise WorkflowNotFoundError(f"no event with id {event_id!r}")
        return event

    def stuck(self, threshold: timedelta | None = None, limit: int = 50) -> StuckReport:
        """Overdue runnable instances, old unprocessed events, suspended instances with errors.

        `threshold` defaults to a few of the host's poll intervals.
        """
        wait = threshold if threshold is not None else self.host.options.poll_interval * STUCK_POLLS
        before = self.host.clock.now() - wait
        report = StuckReport()
        for workflow_id in self.store.get_runnable_instances(before)[:limit]:
            instance = self.store.get_workflow_instance(workflow_id)
            if instance is not None:
                report.overdue.append(summary_of(instance))
        for event_id in self.store.get_runnable_events(before)[:limit]:
            event = self.store.get_event(event_id)
            if event is not None:
                report.events.append(event)
        for summary in self.find(WorkflowQuery(status=WorkflowInstance.SUSPENDED, take=limit)):
            errors = self.store.get_errors(summary.id)
            if errors:
                report.failed.append((summary, errors[-1].message))
        return report

    # ------------------------------------------------------------------ acting

    def publish(self, name: str, key: Any, data: Any = None) -> str:
        """Publish an event through the host, as an application would, and return its id."""
        return self.host.publish_event(name, key, data)

    def purge(self, status: int, older_than: timedelta) -> int:
        """Delete instances of `status` that finished more than `older_than` ago; returns how many."""
        return self.store.purge_workflows(status, self.host.clock.now() - older_than)

    def now(self) -> datetime:
        """The host's clock's current time, for "ago" arguments and stuck thresholds."""
        return self.host.clock.now()
