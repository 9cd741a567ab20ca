"""The original's ``liteflow.core.builders``: the workflow and step builders, re-exported."""

from __future__ import annotations

from .builder import StepBuilder, WorkflowBuilder

__all__ = ["WorkflowBuilder", "StepBuilder"]
