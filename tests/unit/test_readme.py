"""The README's code blocks are valid Python and name only what LiteFlow exports."""

from __future__ import annotations

import ast
import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import liteflow.core
from liteflow.core.testing import WorkflowTest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{n}" for n in range(len(BLOCKS))])
def test_readme_block_compiles(block: str) -> None:
    compile(block, "README.md", "exec")


def test_readme_names_only_what_liteflow_has() -> None:
    classes = {"ExecutionResult", "WorkflowStep", "WorkflowInstance"}
    missing = []
    for block in BLOCKS:
        for node in ast.walk(ast.parse(block)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in classes
            ):
                if not hasattr(getattr(liteflow.core, node.value.id), node.attr):
                    missing.append(f"{node.value.id}.{node.attr}")
            elif isinstance(node, ast.ImportFrom) and node.module == "liteflow.core":
                missing += [
                    a.name for a in node.names if a.name != "*" and not hasattr(liteflow.core, a.name)
                ]
    assert missing == []


def _block_with(text: str) -> str:
    [block] = [block for block in BLOCKS if text in block]
    return block


def test_the_readmes_workflow_tests_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's test module of the seed's workflows, run against the README's own workflows."""
    workflows = types.ModuleType("my_app.workflows")
    for heading_block in ("class Hello(StepBody)", "class AddNumbers(StepBody)"):
        exec(compile(_block_with(heading_block), "README.md", "exec"), workflows.__dict__)
    monkeypatch.setitem(sys.modules, "my_app", types.ModuleType("my_app"))
    monkeypatch.setitem(sys.modules, "my_app.workflows", workflows)
    tests: dict[str, Any] = {}
    exec(compile(_block_with("WorkflowTest(MyWorkflow())"), "README.md", "exec"), tests)
    ran = []
    for name, function in tests.items():
        if not name.startswith("test_"):
            continue
        if inspect.signature(function).parameters:
            with WorkflowTest() as liteflow_test:
                function(liteflow_test)
        else:
            function()
        ran.append(name)
    assert len(ran) == 3
