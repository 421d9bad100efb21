"""Locating the third-party test corpora (never copied into this repository), and the
property checks run on sanitizer output."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

__all__ = ["corpora_dir", "jsonl_records", "require_corpora", "script_capable_constructs"]

_REPO_ROOT = Path(__file__).resolve().parents[2]


def corpora_dir() -> Path | None:
    """``$MAILGATE_CORPORA_DIR``, else ``<repo root>/../shared/corpora``; None if absent."""
    configured = os.environ.get("MAILGATE_CORPORA_DIR")
    candidate = Path(configured) if configured else _REPO_ROOT.parent / "shared" / "corpora"
    return candidate if candidate.is_dir() else None


def require_corpora() -> Path:
    """The corpora directory, or skip the calling test with a message saying how to get it."""
    found = corpora_dir()
    if found is None:
        pytest.skip(
            "corpora not found: set MAILGATE_CORPORA_DIR to the corpora directory "
            "(xss/, tracking/, mime/) or place it at ../shared/corpora next to the repository"
        )
    return found


def jsonl_records(path: Path) -> Iterator[dict]:
    """Records of a JSONL file (split on "\\n" only: payloads may hold U+2028 and friends)."""
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            yield json.loads(line)


FORBIDDEN_TAGS = frozenset(
    {
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math",
        "form", "input", "button", "select", "textarea", "base", "meta", "link", "style",
        "template", "video", "audio", "source", "track", "picture", "portal",
    }
)  # fmt: skip
_NOISE = re.compile(r"[\x00-\x20\x7f-\x9f]")
_BAD_SCHEME = re.compile(r"(javascript|vbscript|data):")
_BAD_CSS = re.compile(r"url\(|expression\(|@import|image-set\(")


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}>")
            if value is None:
                continue
            # The parser has decoded entities once; decode again to catch double encoding.
            normalized = _NOISE.sub("", html.unescape(value)).lower()
            if _BAD_SCHEME.match(normalized):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style" and _BAD_CSS.search(normalized):
                self.problems.append(f"<{tag} style={value!r}>")

    handle_startendtag = handle_starttag


def script_capable_constructs(markup: str) -> list[str]:
    """Every script-capable or loading construct found in ``markup`` (empty when clean)."""
    checker = _Checker()
    checker.feed(markup)
    checker.close()
    return checker.problems
