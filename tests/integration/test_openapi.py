"""The served OpenAPI 3.1 document: it matches the router and is a valid document."""

from __future__ import annotations

import copy

import pytest
import schemathesis
from aiohttp import web

from mailgate.api.openapi import OpenApiDrift, check, expected_operations, router_operations
from mailgate.app import create_app
from mailgate.config import Config
from mailgate.testing.client import ApiClient


def _validate(doc: dict) -> None:
    schemathesis.openapi.from_dict(doc).validate()


@pytest.mark.parametrize("metrics", [False, True])
def test_spec_and_routes_agree(metrics: bool) -> None:
    config = Config().replace(metrics={"enabled": metrics})
    app = create_app(config)
    expected = expected_operations(config)
    assert router_operations(app) == expected
    assert (("/metrics", "get") in expected) is metrics
    assert ("/api/openapi.json", "get") in expected


def test_drift_is_refused() -> None:
    config = Config()
    app = create_app(config)

    async def stray(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/not-in-the-spec", stray)
    with pytest.raises(OpenApiDrift, match="not-in-the-spec"):
        check(app, expected_operations(config))
    with pytest.raises(OpenApiDrift, match="/api/ghost"):
        check(create_app(config), expected_operations(config) | {("/api/ghost", "get")})


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_served_document_is_valid_openapi_31(client: ApiClient) -> None:
    resp = await client.get("/api/openapi.json", cookie=False)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = resp.json()
    assert doc["openapi"].startswith("3.1")
    _validate(doc)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["session"] == {**schemes["session"], "in": "cookie", "name": "__Host-mailgate"}
    assert schemes["csrf"]["name"] == "X-CSRF-Token"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if int(status) >= 400 and path != "/readyz":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method)
            body = op.get("requestBody", {}).get("content", {})
            for media in body.values():
                target = media["schema"]
                if "$ref" in target:
                    target = doc["components"]["schemas"][target["$ref"].rsplit("/", 1)[1]]
                assert target["additionalProperties"] is False, (path, method)
    # The validator is not a rubber stamp: a broken copy is refused.
    broken = copy.deepcopy(doc)
    broken["paths"]["/healthz"]["get"]["responses"] = "nope"
    with pytest.raises(Exception):  # noqa: B017 - schemathesis' own error type
        _validate(broken)
