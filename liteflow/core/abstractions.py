"""The original's ``liteflow.core.abstractions``: the provider contracts under their ``I`` names,
the queue names, and ``IWorkflowHost``.

``IWorkflowHost`` is `WorkflowHost` itself rather than a Protocol: 0.3.1 code uses it to
annotate what ``configure_workflow_host`` returns and then reaches past the original interface's
five methods (its tests read ``host._persistence_service``). The class keeps all of that
type-correct and leaves one definition of the host's API, not a second list to keep in step.
The original's engine contracts (``IBackgroundService``, ``IExecutionPointerFactory``,
``IExecutionResultProcessor``, ``IWorkflowRegistry``, ``IWorkflowExecutor``) are not offered:
this engine does not take replacements for those parts.
"""

from __future__ import annotations

from .host import WorkflowHost
from .providers import EVENT_QUEUE, WORKFLOW_QUEUE, ILockProvider, IPersistenceProvider, IQueueProvider

IWorkflowHost = WorkflowHost

__all__ = [
    "IPersistenceProvider",
    "ILockProvider",
    "IQueueProvider",
    "EVENT_QUEUE",
    "WORKFLOW_QUEUE",
    "IWorkflowHost",
]
