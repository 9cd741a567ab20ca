"""The module paths of liteflow.core 0.3.1 offer the names its user code imported from them,
as the very objects `liteflow.core` exports; ``from liteflow.core import *`` stays as it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import liteflow.core
import liteflow_azure
import liteflow_mongo
from liteflow.core import records

ROOT = Path(__file__).resolve().parents[2]

#: What ``from liteflow.core import *`` gave before the original's module paths came back.
CORE_NAMES = {
    "ContainerStepBody", "Decide", "Delay", "DuplicateWorkflowError", "EVENT_QUEUE", "EndWorkflow",
    "Event", "EventSubscription", "ExecutionError", "ExecutionPointer", "ExecutionResult", "Foreach",
    "HostOptions", "HostStateError", "ILockProvider", "IOMapping", "IPersistenceProvider",
    "IQueueProvider", "If", "InvalidArgumentError", "LiteFlowError", "LocalLockProvider",
    "LocalQueueProvider", "LockProvider", "MemoryPersistenceProvider", "OutcomeSwitch", "Parallel",
    "ParallelStepBuilder", "PersistenceProvider", "ProviderError", "QueueProvider", "QueueType",
    "Recur", "Saga", "Schedule", "Sequence", "SerializationError", "SingleNodeQueueProvider",
    "SqlitePersistenceProvider", "StepBody", "StepBuilder", "StepExecutionContext", "StepOutcome",
    "SubWorkflow", "SubWorkflowError", "WAIT_TIMEOUT", "WORKFLOW_QUEUE", "WaitFor", "When",
    "WhenStepBuilder", "While", "Workflow", "WorkflowBuilder", "WorkflowDefinition",
    "WorkflowDefinitionError", "WorkflowHost", "WorkflowInstance", "WorkflowNotFoundError",
    "WorkflowNotRegisteredError", "WorkflowStep", "configure_workflow_host",
    "register_type",  # added with the known types of stored documents
    "WorkflowAction", "WorkflowQuery", "WorkflowStateError", "WorkflowSummary",  # and with repairs
    "WaitForAny", "InstanceIdConflictError", "CronSchedule",  # added with schedules and flow control
}  # fmt: skip

#: Each compatibility module's names: the original's user-facing ones (models also keeps the
#: two helpers it exported before it became the compatibility module).
EXACT_NAMES = {
    "liteflow.core.abstractions": {
        "IPersistenceProvider", "ILockProvider", "IQueueProvider", "EVENT_QUEUE", "WORKFLOW_QUEUE",
        "IWorkflowHost",
    },
    "liteflow.core.builders": {"WorkflowBuilder", "StepBuilder"},
    "liteflow.core.models": {
        "StepOutcome", "ExecutionResult", "ExecutionPointer", "WorkflowStep", "IOMapping",
        "WorkflowDefinition", "StepBody", "StepExecutionContext", "WorkflowInstance", "Event",
        "ExecutionError", "EventSubscription", "Workflow", "event_key_text", "new_id",
    },
    "liteflow.core.services": {
        "MemoryPersistenceProvider", "LocalLockProvider", "LocalQueueProvider", "WorkflowHost",
    },
    "liteflow.core.configure": {"configure_workflow_host"},
    "liteflow.providers.mongo": {"MongoPersistenceProvider"},
    "liteflow.providers.azure": {"AzureQueueProvider", "AzureLockProvider"},
}  # fmt: skip

#: `primitives` is also the engine's own module; the original's names must stay among its exports.
ORIGINAL_PRIMITIVES = {"WaitFor", "Delay", "Foreach", "If", "While", "Sequence", "Schedule"}

#: Where each re-exported name really lives, beyond what `liteflow.core` exports.
HOMES: dict[str, Any] = {
    "IWorkflowHost": liteflow.core.WorkflowHost,
    "event_key_text": records.event_key_text,
    "new_id": records.new_id,
    "MongoPersistenceProvider": liteflow_mongo.MongoPersistenceProvider,
    "AzureQueueProvider": liteflow_azure.AzureQueueProvider,
    "AzureLockProvider": liteflow_azure.AzureLockProvider,
}


def star_import(module: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(f"from {module} import *", namespace)
    del namespace["__builtins__"]
    return namespace


def test_star_import_of_liteflow_core_gives_what_it_gave() -> None:
    assert set(star_import("liteflow.core")) == CORE_NAMES


@pytest.mark.parametrize("module", sorted(EXACT_NAMES))
def test_original_module_offers_exactly_its_names(module: str) -> None:
    assert set(star_import(module)) == EXACT_NAMES[module]


def test_original_primitives_module_offers_the_original_primitives() -> None:
    assert set(star_import("liteflow.core.primitives")) >= ORIGINAL_PRIMITIVES


@pytest.mark.parametrize("module", sorted(EXACT_NAMES))
def test_original_module_reexports_the_same_objects(module: str) -> None:
    for name, value in star_import(module).items():
        home = HOMES[name] if name in HOMES else getattr(liteflow.core, name)
        assert value is home, f"{module}.{name} is a copy"


@pytest.mark.parametrize(
    ("module", "dependency", "extra"),
    [
        ("liteflow.providers.mongo", "pymongo", "mongo"),
        ("liteflow.providers.azure", "azure", "azure"),
        ("liteflow.otel", "opentelemetry", "otel"),
    ],
)
def test_without_its_dependency_a_provider_path_names_the_extra_to_install(
    module: str, dependency: str, extra: str
) -> None:
    """In a fresh interpreter where `dependency` cannot be imported."""
    completed = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.modules[{dependency!r}] = None; import {module}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert f"ImportError: {module} needs LiteFlow's '{extra}' extra" in completed.stderr
    assert f"pip install 'liteflow[{extra}]'" in completed.stderr


def test_package_discovery_ships_the_original_provider_paths() -> None:
    tomllib = pytest.importorskip("tomllib")
    setuptools = pytest.importorskip("setuptools")
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = setuptools.find_packages(where=str(ROOT), include=settings["include"])
    assert {"liteflow.core", "liteflow.providers", "liteflow_mongo", "liteflow_azure"} <= set(packages)
