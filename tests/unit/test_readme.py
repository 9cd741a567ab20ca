"""The README's code blocks are valid Python and name only what LiteFlow exports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import liteflow.core

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
