"""docs/api.md and the served OpenAPI document name the same operations.

Every path and method of `GET /api/openapi.json` (served in-process by `create_app`, with
every optional route switched on) must have a `### METHOD /path` heading in docs/api.md,
and every such heading must be in the document, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from mailgate.app import create_app
from mailgate.config import Config

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
_HTTP_METHODS = frozenset({"get", "head", "post", "put", "patch", "delete", "options", "trace"})
_HEADING = re.compile(
    r"^#{2,4}\s+(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE)\s+(/\S*)\s*$", re.MULTILINE
)

Operation = tuple[str, str]


def documented_operations(markdown: str) -> set[Operation]:
    """(METHOD, path) pairs named by `### METHOD /path` headings."""
    return {(method, path) for method, path in _HEADING.findall(markdown)}


def served_operations(document: dict[str, Any]) -> set[Operation]:
    """(METHOD, path) pairs of an OpenAPI document."""
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in _HTTP_METHODS
    }


def drift(documented: set[Operation], served: set[Operation]) -> list[str]:
    """Readable differences; empty when the two agree."""
    return [f"served but not in docs/api.md: {m} {p}" for m, p in sorted(served - documented)] + [
        f"in docs/api.md but not served: {m} {p}" for m, p in sorted(documented - served)
    ]


async def _served_document(tmp_path: Path) -> dict[str, Any]:
    # Metrics on the main listener, so /metrics is part of the document too.
    config = Config().replace(metrics={"enabled": True}, data={"dir": str(tmp_path)})
    async with TestClient(TestServer(create_app(config))) as client:
        # The app answers only its own host names (SEC-64); 8443 is the default port.
        response = await client.get("/api/openapi.json", headers={"Host": "localhost:8443"})
        assert response.status == 200
        return await response.json()


async def test_api_doc_names_exactly_the_served_operations(tmp_path: Path) -> None:
    served = served_operations(await _served_document(tmp_path))
    documented = documented_operations(API_DOC.read_text(encoding="utf-8"))
    assert ("GET", "/api/openapi.json") in served
    assert drift(documented, served) == []


def test_drift_is_reported_both_ways() -> None:
    served = {("GET", "/api/session"), ("POST", "/api/session")}
    markdown = "## Session\n\n### GET /api/session\n\ntext\n\n#### DELETE /api/ghost\n"
    assert documented_operations(markdown) == {("GET", "/api/session"), ("DELETE", "/api/ghost")}
    assert drift(documented_operations(markdown), served) == [
        "served but not in docs/api.md: POST /api/session",
        "in docs/api.md but not served: DELETE /api/ghost",
    ]
