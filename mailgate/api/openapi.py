"""GET /api/openapi.json: the OpenAPI 3.1 document, checked against the router at start-up.

The document is rendered from the route table (`operations.py`) and the declared body
types (`models/`) by `openapi_document.py`; `setup` compares the table with the routes the
app actually has and refuses to start when they differ, so it can never drift.

Which spec paths are expected: a path counts when its feature module
(`mailgate/api/<module>.py`) exists and, for /metrics, when metrics are enabled on the
main listener. Modules still being written (e.g. events) are thus tolerated while absent;
the moment one lands, its routes must match the spec. Checked routes are those under
/api/ plus /healthz, /readyz and /metrics; the bundled UI (/, /static/…, /robots.txt) is
not part of the API and is registered after this check anyway.
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any

from aiohttp import web

from mailgate.services import SERVICES

from .openapi_document import document
from .operations import ROUTES

__all__ = ["OpenApiDrift", "expected_operations", "router_operations", "setup"]

_OPS_ROOTS = frozenset({"/healthz", "/readyz", "/metrics"})
_METHODS = frozenset({"get", "post", "put", "patch", "delete"})


class OpenApiDrift(RuntimeError):
    """The route table and the router disagree."""


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"mailgate.api.{name}") is not None


def expected_operations(config: Any) -> set[tuple[str, str]]:
    """(path, method) pairs the route table promises for this configuration."""
    pairs: set[tuple[str, str]] = set()
    for path, (module, ops) in ROUTES.items():
        if not _module_exists(module):
            continue
        if module == "metrics" and (not config.metrics.enabled or config.metrics.port):
            continue  # not served, or served on its own listener only
        pairs.update((path, method) for method in ops)
    return pairs


def router_operations(app: web.Application) -> set[tuple[str, str]]:
    """(path template, method) pairs of the app's API routes."""
    pairs: set[tuple[str, str]] = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        method = route.method.lower()
        if not path or method not in _METHODS:
            continue
        if path.startswith("/api/") or path in _OPS_ROOTS:
            pairs.add((path, method))
    return pairs


def check(app: web.Application, expected: set[tuple[str, str]]) -> None:
    actual = router_operations(app)
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
    if missing or extra:
        raise OpenApiDrift(
            "mailgate/api/operations.py and the routes disagree: "
            f"in the spec but not served {missing}; served but not in the spec {extra}"
        )


def setup(app: web.Application) -> None:
    svc = app[SERVICES]
    expected = expected_operations(svc.config)
    body = json.dumps(document({p for p, _ in expected}), separators=(",", ":")).encode()

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    app.router.add_get("/api/openapi.json", openapi)

    async def verify(app: web.Application) -> None:
        check(app, expected)

    # Checked at start-up, when every feature (whatever the import order) has its routes.
    app.on_startup.append(verify)
