"""Rows of the SQLite store: instances, pointers, subscriptions, events and errors to and
from the values its statements take and return.

Times are integer microseconds since the Unix epoch (UTC); payloads go through the store's
`Serializer`; every value loaded is type-checked against the record schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import SerializationError
from ..record_schema import (
    POINTER_PAYLOADS,
    POINTER_TIMES,
    action_documents,
    check_workflow_fields,
    error_columns,
    restore_actions,
    restore_pointer,
    restore_subscription,
    subscription_columns,
)
from ..records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowAction,
    WorkflowInstance,
    event_key_text,
)
from ..serialization import Serializer
from ._values import POINTER_PLAIN, decode_document, encode_document, stored_time, to_micros

__all__ = ["SqliteRows"]


def _dump_actions(actions: Sequence[WorkflowAction]) -> str | None:
    if not actions:
        return None
    return encode_document(action_documents(actions, to_micros), "actions")


class SqliteRows:
    """Encodes and decodes the store's rows with its serializer."""

    def __init__(self, serializer: Serializer) -> None:
        self._serializer = serializer

    def pointer_document(self, pointer: ExecutionPointer, index: int) -> dict[str, Any]:
        state = vars(pointer)
        document = {name: state[name] for name, default in POINTER_PLAIN if state[name] != default}
        for name in POINTER_TIMES:
            value = state[name]
            if value is not None:
                document[name] = to_micros(value, name, index)
        for name in POINTER_PAYLOADS:
            value = state[name]
            if value is not None:
                document[name] = self._serializer.to_document(value, f"execution_pointers[{index}].{name}")
        return document

    def dump_pointers(self, pointers: Sequence[ExecutionPointer]) -> str:
        documents = [self.pointer_document(pointer, index) for index, pointer in enumerate(pointers)]
        return encode_document(documents, "execution_pointers")

    def load_pointer(self, document: Any, where: str) -> ExecutionPointer:
        if type(document) is not dict:
            raise SerializationError(f"cannot load {where}: stored value is not an object")
        return restore_pointer(document, stored_time, self.from_document, where)

    def load_pointers(self, text: str, workflow_id: str) -> list[ExecutionPointer]:
        where = f"execution_pointers of workflow {workflow_id!r}"
        documents = decode_document(text, where)
        if type(documents) is not list:
            raise SerializationError(f"cannot load {where}: stored value is not a list of objects")
        return [self.load_pointer(document, f"{where}[{index}]") for index, document in enumerate(documents)]

    def from_document(self, document: Any, where: str) -> Any:
        try:
            return self._serializer.from_document(document)
        except SerializationError as exc:
            raise SerializationError(f"cannot load {where}: {exc}") from exc

    def dumps(self, value: Any, path: str) -> str:
        return encode_document(self._serializer.to_document(value, path), path)

    def loads(self, text: str, where: str) -> Any:
        return self.from_document(decode_document(text, where), where)

    def workflow_row(self, workflow: WorkflowInstance, workflow_id: str) -> tuple[Any, ...]:
        return (
            workflow_id,
            workflow.workflow_definition_id,
            workflow.version,
            to_micros(workflow.create_time, "create_time"),
            workflow.reference,
            workflow.description,
            workflow.parent_workflow_id,
            workflow.status,
            to_micros(workflow.next_execution, "next_execution"),
            to_micros(workflow.complete_time, "complete_time"),
            self.dumps(workflow.data, "data"),
            self.dump_pointers(workflow.execution_pointers),
            workflow.trace_context,
            _dump_actions(workflow.actions),
        )

    def workflow_from_row(self, row: Sequence[Any]) -> WorkflowInstance:
        workflow = WorkflowInstance()
        (
            workflow.id,
            workflow.workflow_definition_id,
            workflow.version,
            workflow.create_time,
            workflow.reference,
            workflow.description,
            workflow.parent_workflow_id,
            workflow.status,
            workflow.next_execution,
            workflow.complete_time,
            data,
            pointers,
            workflow.trace_context,
            actions,
        ) = row
        where = check_workflow_fields(workflow, stored_time)
        if type(data) is not str or type(pointers) is not str:
            raise SerializationError(f"cannot load {where}: its data or pointers are not stored as text")
        workflow.data = self.loads(data, f"data of workflow {workflow.id!r}")
        workflow.execution_pointers = self.load_pointers(pointers, workflow.id)
        if actions is not None:
            if type(actions) is not str:
                raise SerializationError(f"cannot load {where}: its actions are not stored as text")
            workflow.actions = restore_actions(
                decode_document(actions, f"actions of {where}"), stored_time, where
            )
        return workflow

    @staticmethod
    def subscription_row(subscription: EventSubscription, subscription_id: str) -> tuple[Any, ...]:
        return subscription_columns(subscription, subscription_id, to_micros)

    @staticmethod
    def subscription_from_row(row: Sequence[Any]) -> EventSubscription:
        return restore_subscription(row, stored_time)

    def event_row(self, event: Event, event_id: str) -> tuple[Any, ...]:
        return (
            event_id,
            event.event_name,
            event_key_text(event.event_key),
            self.dumps(event.event_data, "event_data"),
            to_micros(event.event_time, "event_time"),
            int(bool(event.is_processed)),
        )

    @staticmethod
    def error_rows(errors: Sequence[ExecutionError]) -> list[tuple[Any, ...]]:
        return [error_columns(error, to_micros) for error in errors]
