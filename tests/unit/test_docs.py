"""The code blocks of the README and of the documentation site (docs/) are valid Python, name
only what LiteFlow exports, and the ones marked runnable run."""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import liteflow.core
from liteflow.core.testing import WorkflowTest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUNNABLE = "<!-- runnable -->\n"
FENCE = re.compile(r"(<!-- runnable -->\n)?```python\n(.*?)```", flags=re.DOTALL)


def _blocks(page: Path) -> list[tuple[bool, str]]:
    return [(bool(marker), code) for marker, code in FENCE.findall(page.read_text())]


BLOCKS = [
    (f"{page.relative_to(ROOT)}:{n}", runnable, code)
    for page in PAGES
    for n, (runnable, code) in enumerate(_blocks(page))
]


def _page_blocks(name: str) -> list[str]:
    return [code for _, code in _blocks(ROOT / name)]


def test_the_readme_and_the_docs_have_python_blocks() -> None:
    assert len(_page_blocks("README.md")) >= 1
    assert len(BLOCKS) >= 40


@pytest.mark.parametrize(("where", "block"), [(w, b) for w, _, b in BLOCKS], ids=[w for w, _, _ in BLOCKS])
def test_block_compiles(where: str, block: str) -> None:
    compile(block, where, "exec")


def test_blocks_name_only_what_liteflow_has() -> None:
    classes = {"ExecutionResult", "WorkflowStep", "WorkflowInstance"}
    missing = []
    for where, _, block in BLOCKS:
        for node in ast.walk(ast.parse(block)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in classes
            ):
                if not hasattr(getattr(liteflow.core, node.value.id), node.attr):
                    missing.append(f"{where}: {node.value.id}.{node.attr}")
            elif isinstance(node, ast.ImportFrom) and node.module == "liteflow.core":
                missing += [
                    f"{where}: {a.name}"
                    for a in node.names
                    if a.name != "*" and not hasattr(liteflow.core, a.name)
                ]
    assert missing == []


RUNNABLE_BLOCKS = [(where, block) for where, runnable, block in BLOCKS if runnable]
PRINTED = {
    "README.md:0": "order received\ncharged 30 EUR\nGoodbye\n",
    "docs/getting-started.md:0": "Hello LiteFlow\nGoodbye\n",
}


def test_the_readme_and_the_getting_started_page_have_runnable_blocks() -> None:
    assert {where.split(":")[0] for where, _ in RUNNABLE_BLOCKS} >= {"README.md", "docs/getting-started.md"}
    assert set(PRINTED) <= {where for where, _ in RUNNABLE_BLOCKS}


@pytest.mark.parametrize(("where", "block"), RUNNABLE_BLOCKS, ids=[w for w, _ in RUNNABLE_BLOCKS])
def test_runnable_block_runs_to_its_end(where: str, block: str) -> None:
    """Its own asserts hold; the first workflows print what their pages say they print."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block, where, "exec"), {"__name__": "docs_block"})
    assert printed.getvalue() == PRINTED.get(where, printed.getvalue())


def _block_with(page: str, text: str) -> str:
    [block] = [block for block in _page_blocks(page) if text in block]
    return block


def test_the_testing_pages_workflow_tests_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test module of the seed's workflows (docs/testing.md), run against the concepts page's
    own workflows."""
    workflows = types.ModuleType("my_app.workflows")
    for heading_block in ("class Hello(StepBody)", "class AddNumbers(StepBody)"):
        block = _block_with("docs/concepts.md", heading_block)
        exec(compile(block, "concepts.md", "exec"), workflows.__dict__)
    monkeypatch.setitem(sys.modules, "my_app", types.ModuleType("my_app"))
    monkeypatch.setitem(sys.modules, "my_app.workflows", workflows)
    ran = _run_test_module(_block_with("docs/testing.md", "WorkflowTest(MyWorkflow())"), "testing.md")
    assert len(ran) == 3


def _run_test_module(block: str, where: str) -> list[str]:
    """Run every ``test_`` function of a page's test module (a ``liteflow_test`` argument gets a
    started WorkflowTest, as the pytest plugin gives); the names of those that ran."""
    tests: dict[str, Any] = {}
    exec(compile(block, where, "exec"), tests)
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
    return ran


def test_the_readmes_workflow_tests_pass() -> None:
    """The README's test module of the seed's workflows, as a user would copy it."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ran = _run_test_module(_block_with("README.md", "WorkflowTest(MyWorkflow())"), "README.md")
    assert ran == [
        "test_my_workflow_adds_the_numbers",
        "test_the_event_data_is_captured",
        "test_without_the_event_the_wait_ends_after_two_days",
    ]
    assert printed.getvalue().count("Goodbye\n") == 3


def test_every_sample_has_a_page_showing_its_source() -> None:
    pages = ROOT / "docs" / "samples"
    missing = [
        sample.name
        for sample in sorted((ROOT / "samples").glob("*.py"))
        if not (pages / f"{sample.stem}.md").is_file()
        or f'--8<-- "samples/{sample.name}"' not in (pages / f"{sample.stem}.md").read_text()
    ]
    assert missing == []


def test_the_readmes_links_lead_to_files_that_exist() -> None:
    """The README is not part of the site, whose strict build checks every other link."""
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    local = [target for target in targets if "://" not in target]
    assert local
    assert [target for target in local if not (ROOT / target).exists()] == []
