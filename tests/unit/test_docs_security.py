"""docs/security.md lists every checklist row, and every test it names exists.

A row is a table line `| SEC-NN | property | tests |`; its tests are written as pytest node
ids (`tests/…/test_x.py::test_name`). Renaming or deleting a test that a row relies on,
or dropping a row, fails here.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECURITY_DOC = ROOT / "docs" / "security.md"
ROWS = [f"SEC-{n:02d}" for n in range(1, 68)]

_ROW = re.compile(r"^\|\s*(SEC-\d+)\s*\|(.*)$", re.MULTILINE)
_NODE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def rows(markdown: str) -> dict[str, list[tuple[str, str]]]:
    """Row id -> the (file, test name) pairs it cites; a repeated id is an error."""
    found: dict[str, list[tuple[str, str]]] = {}
    for row_id, rest in _ROW.findall(markdown):
        assert row_id not in found, f"{row_id} appears twice"
        found[row_id] = _NODE.findall(rest)
    return found


@cache
def defined_tests(path: str) -> frozenset[str]:
    """Names of the test functions defined at module level in a test file."""
    file = ROOT / path
    if not file.is_file():
        return frozenset()
    tree = ast.parse(file.read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    )


def missing_tests(cited: dict[str, list[tuple[str, str]]]) -> list[str]:
    return [
        f"{row_id}: {path}::{name}"
        for row_id, nodes in cited.items()
        for path, name in nodes
        if name not in defined_tests(path)
    ]


def test_every_checklist_row_is_there_once_with_a_test() -> None:
    cited = rows(SECURITY_DOC.read_text(encoding="utf-8"))
    assert list(cited) == ROWS
    assert [row_id for row_id, nodes in cited.items() if not nodes] == []


def test_every_cited_test_exists() -> None:
    cited = rows(SECURITY_DOC.read_text(encoding="utf-8"))
    assert missing_tests(cited) == []


def test_a_missing_test_or_row_is_noticed() -> None:
    here = "tests/unit/test_docs_security.py"
    markdown = (
        f"| SEC-01 | real | `{here}::test_every_cited_test_exists` |\n"
        f"| SEC-02 | renamed | `{here}::test_that_was_renamed`, `tests/nowhere.py::test_x` |\n"
        "| SEC-03 | untested | none |\n"
    )
    cited = rows(markdown)
    assert cited["SEC-03"] == []
    assert missing_tests(cited) == [
        f"SEC-02: {here}::test_that_was_renamed",
        "SEC-02: tests/nowhere.py::test_x",
    ]
