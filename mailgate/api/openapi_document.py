"""The OpenAPI 3.1 document, rendered from the route table (operations.py) and the declared
body types (models/): msgspec writes each type's JSON Schema into components/schemas, so
the document says what the validators check."""

from __future__ import annotations

from typing import Any

import msgspec

from .models.base import Error
from .operations import JSON, ROUTES, UNSAFE, Answer, Operation, Param

__all__ = ["document", "schemas"]

_REF = "#/components/schemas/{name}"
_REASONS = {
    400: "The request is not valid (bad_request).",
    401: "No live session (auth_required) or login refused (auth_failed).",
    403: (
        "Missing or wrong CSRF token, or a cross-origin request (csrf_failed); "
        "an invalid, expired or foreign signed link (forbidden)."
    ),
    404: "No such resource (not_found).",
    409: (
        "The message id is from an older UIDVALIDITY (stale_message); a folder of that name "
        "exists (mailbox_exists) or may not be changed (mailbox_protected)."
    ),
    413: "The body is larger than the limit (payload_too_large).",
    415: "The body has the wrong media type (unsupported_media_type).",
    422: "The mail server refused the folder name or operation (mailbox_refused).",
    429: "Too many attempts (too_many_requests); see Retry-After.",
    502: (
        "The mail server is unreachable, failed TLS or refused (upstream_*); "
        "a remote image was refused by the proxy (image_refused)."
    ),
    503: "The session store is unavailable (store_unavailable).",
    507: "No room to store the upload (storage_full).",
}
_SECURITY = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "__Host-mailgate",
        "description": "Set by POST /api/session; Secure, HttpOnly, SameSite=Strict.",
    },
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "The csrf_token of the session; required on POST, PUT, PATCH, DELETE.",
    },
}


def _types() -> list[Any]:
    """Every body type the route table names, the error body first."""
    found: list[Any] = [Error]
    for _, operations in ROUTES.values():
        for op in operations.values():
            candidates = [op.body, *(a.body for a in op.ok.values())]
            found.extend(t for t in candidates if t is not None and t not in found)
    return found


def schemas() -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    """(type -> its schema or $ref, components/schemas) for every type in the table."""
    types = _types()
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    return dict(zip(types, refs, strict=True)), components


def _error(status: int, error_ref: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _REASONS[status],
        "content": {JSON: {"schema": error_ref}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}
        }
    return response


def _answer(answer: Answer, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if answer.headers:
        out["headers"] = dict(answer.headers)
    content = dict(answer.media)
    if answer.body is not None:
        content[JSON] = {"schema": refs[answer.body]}
    if content:
        out["content"] = content
    return out


def _param(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": param.where,
        "required": param.where == "path",
        "schema": param.schema,
    }
    if param.description:
        out["description"] = param.description
    return out


def _operation(method: str, op: Operation, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.op_id, "summary": op.summary, "tags": [op.tag]}
    if op.params:
        out["parameters"] = [_param(p) for p in op.params]
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {op.body_media: {"schema": refs[op.body]}},
        }
    responses = {str(status): _answer(a, refs) for status, a in op.ok.items()}
    for status in sorted(set(op.errors)):
        responses[str(status)] = _error(status, refs[Error])
    out["responses"] = responses
    if op.public:
        out["security"] = []
    else:
        out["security"] = [{"session": []} | ({"csrf": []} if method in UNSAFE else {})]
    return out


def document(paths: set[str], server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the given subset of the route table's paths."""
    refs, components = schemas()
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "mailgate",
            "version": "1",
            "description": "Privacy-respecting webmail session backend (contract v1, API.md).",
        },
        "paths": {
            path: {m: _operation(m, op, refs) for m, op in operations.items()}
            for path, (_, operations) in ROUTES.items()
            if path in paths
        },
        "components": {"schemas": components, "securitySchemes": _SECURITY},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
