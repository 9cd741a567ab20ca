"""The ``liteflow_test`` pytest fixture: a started `WorkflowTest` per test.

Registered with pytest (entry point ``pytest11``) when LiteFlow is installed::

    def test_my_workflow(liteflow_test):
        liteflow_test.register_workflow(MyWorkflow())
        workflow_id = liteflow_test.start_workflow("MyWorkflow")
        liteflow_test.wait_for_workflow_to_complete(workflow_id)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .workflow_test import WorkflowTest

__all__ = ["liteflow_test"]


@pytest.fixture
def liteflow_test() -> Iterator[WorkflowTest]:
    """A `WorkflowTest` on a fresh in-memory store and `FakeClock`, stopped after the test."""
    with WorkflowTest() as test:
        yield test
