"""LiteFlow: long-running, persisted workflows inside a Python application.

``from liteflow.core import *`` gives the seed's API: steps, results, workflows, the builder,
the host, the models, the provider contracts and the built-in single-node providers. Code
written for liteflow.core 0.3.1 may import from its module paths instead (``abstractions``,
``builders``, ``models``, ``services``, ``primitives``, ``configure``): they re-export these objects.
"""

from __future__ import annotations

from .builder import ParallelStepBuilder, StepBuilder, WhenStepBuilder, WorkflowBuilder
from .configure import configure_workflow_host
from .definition import IOMapping, StepOutcome, WorkflowDefinition, WorkflowStep
from .errors import (
    DuplicateWorkflowError,
    HostStateError,
    InstanceIdConflictError,
    InvalidArgumentError,
    LiteFlowError,
    ProviderError,
    SerializationError,
    WorkflowDefinitionError,
    WorkflowNotFoundError,
    WorkflowNotRegisteredError,
    WorkflowStateError,
)
from .host import WorkflowHost
from .local import LocalLockProvider, LocalQueueProvider, SingleNodeQueueProvider
from .memory import MemoryPersistenceProvider
from .options import HostOptions
from .primitives import (
    WAIT_TIMEOUT,
    ContainerStepBody,
    Decide,
    Delay,
    EndWorkflow,
    Foreach,
    If,
    OutcomeSwitch,
    Parallel,
    Recur,
    Saga,
    Schedule,
    Sequence,
    SubWorkflow,
    SubWorkflowError,
    WaitFor,
    WaitForAny,
    When,
    While,
)
from .providers import (
    EVENT_QUEUE,
    WORKFLOW_QUEUE,
    ILockProvider,
    IPersistenceProvider,
    IQueueProvider,
    LockProvider,
    PersistenceProvider,
    QueueProvider,
    QueueType,
)
from .queries import WorkflowQuery, WorkflowSummary
from .records import (
    Event,
    EventSubscription,
    ExecutionError,
    ExecutionPointer,
    WorkflowAction,
    WorkflowInstance,
)
from .schedules import CronSchedule
from .serialization import register_type
from .sqlite import SqlitePersistenceProvider
from .step import ExecutionResult, StepBody, StepExecutionContext
from .workflow import Workflow

__all__ = [
    "StepBody",
    "StepExecutionContext",
    "ExecutionResult",
    "Workflow",
    "WorkflowBuilder",
    "StepBuilder",
    "WhenStepBuilder",
    "ParallelStepBuilder",
    "configure_workflow_host",
    "WorkflowHost",
    "CronSchedule",
    "HostOptions",
    "WorkflowInstance",
    "ExecutionPointer",
    "Event",
    "EventSubscription",
    "ExecutionError",
    "WorkflowAction",
    "WorkflowQuery",
    "WorkflowSummary",
    "WorkflowDefinition",
    "WorkflowStep",
    "StepOutcome",
    "IOMapping",
    "ContainerStepBody",
    "Foreach",
    "While",
    "If",
    "Sequence",
    "WaitFor",
    "WaitForAny",
    "Delay",
    "Schedule",
    "Recur",
    "OutcomeSwitch",
    "When",
    "Decide",
    "Parallel",
    "Saga",
    "EndWorkflow",
    "SubWorkflow",
    "WAIT_TIMEOUT",
    "PersistenceProvider",
    "QueueProvider",
    "LockProvider",
    "IPersistenceProvider",
    "IQueueProvider",
    "ILockProvider",
    "QueueType",
    "WORKFLOW_QUEUE",
    "EVENT_QUEUE",
    "MemoryPersistenceProvider",
    "SqlitePersistenceProvider",
    "register_type",
    "SingleNodeQueueProvider",
    "LocalQueueProvider",
    "LocalLockProvider",
    "LiteFlowError",
    "WorkflowNotRegisteredError",
    "WorkflowDefinitionError",
    "DuplicateWorkflowError",
    "WorkflowNotFoundError",
    "WorkflowStateError",
    "InvalidArgumentError",
    "InstanceIdConflictError",
    "SerializationError",
    "HostStateError",
    "ProviderError",
    "SubWorkflowError",
]
