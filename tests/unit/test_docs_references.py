"""What the documentation points at exists: links, files, tests and code names.

- Links in README.md and docs/ resolve to files inside the repository (nothing outside it,
  such as a sibling `../shared` folder, is linked from README.md, docs/ or mailgate/).
- Every `tests/…py::test_name` cited in docs/ is a test function of that file.
- Every backticked repository path in docs/ exists.
- In docs/architecture.md every backticked code name (`SessionManager.login`,
  `open_message`, `Services.extra`…) is defined in mailgate/, in the file named right after
  it when one is: the walkthroughs cannot silently outlive a rename.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").rglob("*.md"))
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# Names from outside mailgate that the architecture page mentions on purpose.
FOREIGN_NAMES = frozenset({"on_response_prepare", "policy.default"})

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_NODE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
_PATH = re.compile(r"`((?:mailgate|tests|benchmarks|config|docs)/[\w./-]*\w)`")
_CODE = re.compile(r"`([A-Za-z_]\w*(?:\.\w+)?)(?:\([^`]*\))?`(?: \(`(mailgate/[\w/]+\.py)`)?")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_links_stay_inside_the_repository() -> None:
    broken = []
    for doc in [ROOT / "README.md", *DOCS]:
        for target in _LINK.findall(_text(doc)):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor on the same page
            resolved = (doc.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert broken == []


def test_nothing_points_outside_the_repository() -> None:
    sources = [ROOT / "README.md", *DOCS, *sorted((ROOT / "mailgate").rglob("*.py"))]
    assert [str(p.relative_to(ROOT)) for p in sources if "../shared" in _text(p)] == []


@cache
def _tree(path: str) -> ast.Module | None:
    file = ROOT / path
    return ast.parse(_text(file)) if file.is_file() else None


def _self_attribute(target: ast.expr) -> str | None:
    """`x` for an assignment target `self.x`."""
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    ):
        return target.attr
    return None


def _defined(tree: ast.Module) -> set[str]:
    """Module-level names, and `Class.member` for methods, class attributes and the
    attributes its methods set on `self`."""
    names: set[str] = set()

    def targets(node: ast.AST) -> list[ast.expr]:
        if isinstance(node, ast.Assign):
            return node.targets
        if isinstance(node, ast.AnnAssign):
            return [node.target]
        return []

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        names.update(t.id for t in targets(node) if isinstance(t, ast.Name))
        if not isinstance(node, ast.ClassDef):
            continue
        for member in node.body:
            if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(f"{node.name}.{member.name}")
            names.update(f"{node.name}.{t.id}" for t in targets(member) if isinstance(t, ast.Name))
        for inner in ast.walk(node):
            for t in targets(inner):
                attribute = _self_attribute(t)
                if attribute is not None:
                    names.add(f"{node.name}.{attribute}")
    return names


@cache
def _names_in(path: str) -> frozenset[str]:
    tree = _tree(path)
    return frozenset(_defined(tree)) if tree is not None else frozenset()


@cache
def _all_names() -> frozenset[str]:
    found: set[str] = set()
    for file in (ROOT / "mailgate").rglob("*.py"):
        found |= _names_in(str(file.relative_to(ROOT)))
    return frozenset(found)


def _is_code_name(name: str) -> bool:
    head = name.split(".")[0]
    camel = sum(c.isupper() for c in head) >= 2 and any(c.islower() for c in head)
    return "_" in name or camel


def test_cited_tests_exist() -> None:
    missing = [
        f"{doc.relative_to(ROOT)}: {path}::{name}"
        for doc in DOCS
        for path, name in _NODE.findall(_text(doc))
        if name not in _names_in(path)
    ]
    assert missing == []


def test_cited_paths_exist() -> None:
    missing = [
        f"{doc.relative_to(ROOT)}: {path}"
        for doc in DOCS
        for path in _PATH.findall(_text(doc))
        if "<" not in path and not (ROOT / path).exists()
    ]
    assert missing == []


def test_architecture_names_exist_where_it_says() -> None:
    missing = []
    for name, path in _CODE.findall(_text(ARCHITECTURE)):
        if name in FOREIGN_NAMES or not _is_code_name(name):
            continue
        where = _names_in(path) if path else _all_names()
        if name not in where:
            missing.append(f"{name} ({path or 'mailgate/'})")
    assert missing == []


def test_the_name_check_can_fail() -> None:
    sample = "`SessionManager.login` (`mailgate/session/manager.py`), `SessionManager.logon`"
    found = _CODE.findall(sample)
    assert found == [
        ("SessionManager.login", "mailgate/session/manager.py"),
        ("SessionManager.logon", ""),
    ]
    assert "SessionManager.login" in _names_in("mailgate/session/manager.py")
    assert "SessionManager.wipe_hooks" in _names_in("mailgate/session/manager.py")
    assert "SessionManager.logon" not in _all_names()
    assert "open_message" not in _names_in("mailgate/api/messages.py")  # imported, not defined
