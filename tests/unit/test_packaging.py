"""Packaging: the sandbox is an optional extra, kept out of production installs and the
image; the license is an SPDX expression (no setuptools deprecation warning)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = {"pymap", "aiosmtpd", "trustme"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_the_sandbox_is_the_demo_extra_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {_name(r) for r in project["dependencies"]} & SANDBOX == set()
    assert {_name(r) for r in project["optional-dependencies"]["demo"]} == SANDBOX
    # The tests use the sandbox, so the test extra brings the demo extra along.
    assert "mailgate[demo]" in project["optional-dependencies"]["test"]
    assert "import-linter" in {_name(r) for r in project["optional-dependencies"]["test"]}


def test_license_is_an_spdx_expression():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    assert not any("License ::" in c for c in pyproject["project"].get("classifiers", []))


def test_the_image_installs_mailgate_without_the_demo_extra():
    installs = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line
    ]
    assert installs and all("[" not in line for line in installs), installs
