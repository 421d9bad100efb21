"""The OpenAPI 3.1 description of the HTTP API, as plain Python data (API.md in schema form).

`OPERATIONS` maps path -> method -> operation; `MODULE_OF` names the feature module that
serves each path, so `mailgate/api/openapi.py` can leave out features that are absent or
disabled. Responses are exact: every status an endpoint can give, its content type and,
for JSON, a strict schema; every 4xx/5xx carries the one error body.
"""

from __future__ import annotations

from typing import Any

from mailgate.api.messages import DOWNLOAD_TYPES
from mailgate.i18n import LANGUAGES

__all__ = ["MODULE_OF", "OPERATIONS", "UNSAFE", "document"]

JSON = "application/json"
UNSAFE = frozenset({"post", "put", "patch", "delete"})

_REASONS = {
    400: "The request is not valid (bad_request).",
    401: "No live session (auth_required) or login refused (auth_failed).",
    403: (
        "Missing or wrong CSRF token, or a cross-origin request (csrf_failed); "
        "an invalid, expired or foreign signed link (forbidden)."
    ),
    404: "No such resource (not_found).",
    409: "The message id is from an older UIDVALIDITY (stale_message).",
    413: "The body is larger than the limit (payload_too_large).",
    415: "The body has the wrong media type (unsupported_media_type).",
    429: "Too many attempts (too_many_requests); see Retry-After.",
    502: (
        "The mail server is unreachable, failed TLS or refused (upstream_*); "
        "a remote image was refused by the proxy (image_refused)."
    ),
    503: "The session store is unavailable (store_unavailable).",
    507: "No room to store the upload (storage_full).",
}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object: exactly these properties, all required unless said otherwise."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {"error": _obj({"code": {"type": "string", "pattern": "^[a-z_]+$"}, "message": _STR})}
    ),
    "Address": _obj({"name": _STR, "email": _STR}),
    "Session": _obj(
        {
            "account": _obj({"email": _STR}),
            "csrf_token": _STR,
            "idle_timeout_s": {"type": "number"},
            "absolute_timeout_s": {"type": "number"},
            "features": _obj({"proxy": _BOOL}),
            "idle_expires_in_s": {"type": "number"},
        },
        ["account", "csrf_token", "idle_timeout_s", "absolute_timeout_s", "features"],
    ),
    "Mailbox": _obj(
        {
            "id": _STR,
            "name": _STR,
            "path": _STR,
            "role": {
                "type": ["string", "null"],
                "enum": ["inbox", "sent", "drafts", "trash", "junk", "archive", None],
            },
            "total": {"type": ["integer", "null"], "minimum": 0},
            "unread": {"type": ["integer", "null"], "minimum": 0},
        }
    ),
    "Summary": _obj(
        {
            "id": _STR,
            "from": {"type": "array", "items": _ref("Address")},
            "to": {"type": "array", "items": _ref("Address")},
            "subject": _STR,
            "date": _NSTR,
            "seen": _BOOL,
            "flagged": _BOOL,
            "answered": _BOOL,
            "size": {"type": ["integer", "null"], "minimum": 0},
            "has_attachments": _BOOL,
            "preview": _STR,
        }
    ),
    "Attachment": _obj(
        {
            "part": _STR,
            "filename": _STR,
            "content_type": _STR,
            "size": {"type": ["integer", "null"], "minimum": 0},
            "inline": _BOOL,
            "url": _STR,
        }
    ),
    "Upload": _obj({"id": _STR, "filename": _STR, "content_type": _STR, "size": _INT}),
    "Preferences": _obj(
        {
            "page_size": {"type": "integer", "minimum": 10, "maximum": 200},
            "theme": {"enum": ["light", "dark", "system"]},
            "signature": {"type": "string", "maxLength": 2000},
            "display_name": {"type": "string", "maxLength": 100},
            "time_zone": {"type": "string", "maxLength": 64},
            "language": {"enum": list(LANGUAGES)},
            "compose_format": {"enum": ["text", "html"]},
            "remote_images_senders": {
                "type": "array",
                "maxItems": 500,
                "items": {"type": "string", "maxLength": 254},
            },
        },
        [],
    ),
}
_MESSAGE_EXTRA = {
    "cc": {"type": "array", "items": _ref("Address")},
    "bcc": {"type": "array", "items": _ref("Address")},
    "reply_to": {"type": "array", "items": _ref("Address")},
    "message_id_header": _NSTR,
    "in_reply_to": _NSTR,
    "references": {"type": ["array", "null", "string"], "items": _STR},
    "text": _NSTR,
    "has_html": _BOOL,
    "html_url": _STR,
    "remote_content_blocked": _INT,
    "remote_allowed": _BOOL,
    "attachments": {"type": "array", "items": _ref("Attachment")},
}
SCHEMAS["Message"] = _obj({**SCHEMAS["Summary"]["properties"], **_MESSAGE_EXTRA})
_ADDR_IN = {"oneOf": [_STR, _obj({"name": _STR, "email": _STR}, ["email"])]}
_COMPOSE = {
    "to": {"type": "array", "items": _ADDR_IN},
    "cc": {"type": "array", "items": _ADDR_IN},
    "bcc": {"type": "array", "items": _ADDR_IN},
    "subject": _STR,
    "text": _STR,
    "html": _STR,
    "attachments": {"type": "array", "items": _STR, "maxItems": 50},
    "in_reply_to": _STR,
    "save_sent": _BOOL,
}
SCHEMAS["Compose"] = _obj(_COMPOSE, [])
SCHEMAS["Draft"] = _obj({**_COMPOSE, "replaces": _STR}, [])


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _REASONS[status],
        "content": {JSON: {"schema": _ref("Error")}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}
        }
    return response


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_NO_CONTENT = {"description": "Done; no body."}
_DOWNLOAD_HEADERS = {
    "Content-Disposition": {
        "required": True,
        "schema": {"type": "string", "pattern": "^attachment"},
    }
}
# What any handler behind require_session can answer besides its own errors.
_SESSION_ERRORS = (401, 503)
_UNSAFE_ERRORS = (400, 401, 403, 413, 415, 503)
_IMAP_ERRORS = (502,)
_MESSAGE_ERRORS = (400, 404, 409, 502)


def _op(
    op_id: str,
    summary: str,
    ok: dict[str, dict[str, Any]],
    errors: tuple[int, ...],
    *,
    tag: str,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag]}
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    responses = dict(ok)
    for status in sorted(set(errors)):
        responses[str(status)] = _error_response(status)
    operation["responses"] = responses
    if public:
        operation["security"] = []
    return operation


_MSG = [_path("message_id")]
_M = "messages"

OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/api/session": {
        "post": _op(
            "login",
            "Log in with an existing mail account; sets the session cookie.",
            {"201": _json(_ref("Session"), "Logged in; the cookie is set.")},
            (400, 401, 403, 413, 415, 429, 502, 503),
            tag="session",
            body=_body(
                _obj(
                    {
                        "email": {"type": "string", "minLength": 3, "maxLength": 320},
                        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
                    }
                )
            ),
            public=True,
        ),
        "get": _op(
            "get_session",
            "The live session (counts as activity).",
            {"200": _json(_ref("Session"), "The session.")},
            _SESSION_ERRORS,
            tag="session",
        ),
        "delete": _op(
            "logout",
            "Log out: wipe the session, expire the cookie, send Clear-Site-Data.",
            {"204": _NO_CONTENT},
            (401, 403, 503),
            tag="session",
        ),
    },
    "/api/mailboxes": {
        "get": _op(
            "list_mailboxes",
            "All mailboxes of the account.",
            {
                "200": _json(
                    _obj({"mailboxes": {"type": "array", "items": _ref("Mailbox")}}), "Mailboxes."
                )
            },
            _SESSION_ERRORS + _IMAP_ERRORS,
            tag="mailboxes",
        )
    },
    "/api/mailboxes/{mailbox_id}/messages": {
        "get": _op(
            "list_messages",
            "One page of message summaries, optionally searched.",
            {
                "200": _json(
                    _obj(
                        {
                            "total": _INT,
                            "offset": _INT,
                            "messages": {"type": "array", "items": _ref("Summary")},
                        }
                    ),
                    "A page.",
                )
            },
            (400, 404, *_SESSION_ERRORS, *_IMAP_ERRORS),
            tag="mailboxes",
            params=[
                _path("mailbox_id"),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "Page size."),
                _q("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000}, "Skip."),
                _q("q", {"type": "string", "maxLength": 256}, "Search text."),
                _q("sort", {"enum": ["date_desc", "date_asc"]}, "Order."),
            ],
        )
    },
    "/api/messages/{message_id}": {
        "get": _op(
            "get_message",
            "One message; marks it seen unless peek=1.",
            {"200": _json(_ref("Message"), "The message.")},
            _MESSAGE_ERRORS + _SESSION_ERRORS,
            tag=_M,
            params=[*_MSG, _q("peek", {"enum": ["1", "true", "0"]}, "Do not mark as seen.")],
        ),
        "patch": _op(
            "update_flags",
            "Set or clear the seen and flagged flags.",
            {"200": _json(_ref("Summary"), "The updated summary.")},
            _MESSAGE_ERRORS + _UNSAFE_ERRORS,
            tag=_M,
            params=_MSG,
            body=_body(_obj({"seen": _BOOL, "flagged": _BOOL}, [])),
        ),
        "delete": _op(
            "delete_message",
            "Move to Trash, or remove for good when already in Trash.",
            {"204": _NO_CONTENT},
            (*_MESSAGE_ERRORS, 401, 403, 503),
            tag=_M,
            params=_MSG,
        ),
    },
    "/api/messages/{message_id}/body.html": {
        "get": _op(
            "get_body_html",
            "The sanitized HTML body as a standalone document with its own CSP.",
            {
                "200": {
                    "description": "The document.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
            _MESSAGE_ERRORS + _SESSION_ERRORS,
            tag=_M,
            params=[*_MSG, _q("remote", {"enum": ["allow"]}, "Load remote images via proxy.")],
        )
    },
    "/api/messages/{message_id}/raw": {
        "get": _op(
            "get_raw",
            "The original message, streamed as an attachment.",
            {
                "200": {
                    "description": "The message source.",
                    "headers": _DOWNLOAD_HEADERS,
                    "content": {"message/rfc822": {"schema": {"type": "string"}}},
                }
            },
            _MESSAGE_ERRORS + _SESSION_ERRORS,
            tag=_M,
            params=_MSG,
        )
    },
    "/api/messages/{message_id}/parts/{part}": {
        "get": _op(
            "get_part",
            "One attachment, streamed; a short list of types keeps its own, others are "
            "application/octet-stream.",
            {
                "200": {
                    "description": "The part's decoded bytes.",
                    "headers": _DOWNLOAD_HEADERS,
                    "content": {
                        t: {"schema": {"type": "string", "format": "binary"}}
                        for t in ("application/octet-stream", *sorted(DOWNLOAD_TYPES))
                    },
                }
            },
            _MESSAGE_ERRORS + _SESSION_ERRORS,
            tag=_M,
            params=[*_MSG, _path("part")],
        )
    },
    "/api/messages/{message_id}/move": {
        "post": _op(
            "move_message",
            "Move to another mailbox; answers the new id (null if the server did not say).",
            {"200": _json(_obj({"id": _NSTR}), "The new id.")},
            _MESSAGE_ERRORS + _UNSAFE_ERRORS,
            tag=_M,
            params=_MSG,
            body=_body(_obj({"mailbox": _STR})),
        )
    },
    "/api/uploads": {
        "post": _op(
            "upload",
            "Store one file (multipart field `file`) encrypted for this session.",
            {"201": _json(_ref("Upload"), "Stored.")},
            (*_UNSAFE_ERRORS, 507),
            tag="uploads",
            body={
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": _obj({"file": {"type": "string", "format": "binary"}})
                    }
                },
            },
        ),
        "get": _op(
            "list_uploads",
            "This session's uploads.",
            {
                "200": _json(
                    _obj({"uploads": {"type": "array", "items": _ref("Upload")}}), "Uploads."
                )
            },
            _SESSION_ERRORS,
            tag="uploads",
        ),
    },
    "/api/uploads/{upload_id}": {
        "delete": _op(
            "delete_upload",
            "Remove one upload.",
            {"204": _NO_CONTENT},
            (404, 401, 403, 503),
            tag="uploads",
            params=[_path("upload_id")],
        )
    },
    "/api/send": {
        "post": _op(
            "send",
            "Send over the account's SMTP submission server, then save to Sent.",
            {
                "200": _json(
                    _obj(
                        {"message_id_header": _STR, "saved_to": _NSTR, "warning": _STR},
                        ["message_id_header", "saved_to"],
                    ),
                    "Sent.",
                )
            },
            (*_UNSAFE_ERRORS, 404, 409, 502),
            tag="compose",
            body=_body(_ref("Compose")),
        )
    },
    "/api/drafts": {
        "post": _op(
            "save_draft",
            "Save to the Drafts mailbox (replacing an earlier draft when `replaces` is given).",
            {"201": _json(_obj({"id": _NSTR, "warning": _STR}, ["id"]), "Saved.")},
            (*_UNSAFE_ERRORS, 404, 409, 502),
            tag="compose",
            body=_body(_ref("Draft")),
        )
    },
    "/api/preferences": {
        "get": _op(
            "get_preferences",
            "The stored preferences and when they will be erased without a login.",
            {"200": _json(_ref("PreferencesBody"), "Preferences.")},
            _SESSION_ERRORS,
            tag="preferences",
        ),
        "put": _op(
            "put_preferences",
            "Replace the preferences.",
            {"200": _json(_ref("PreferencesBody"), "Stored.")},
            _UNSAFE_ERRORS,
            tag="preferences",
            body=_body(_ref("Preferences")),
        ),
        "delete": _op(
            "delete_preferences",
            "Erase the preferences at once.",
            {"204": _NO_CONTENT},
            (401, 403, 503),
            tag="preferences",
        ),
    },
    "/api/events": {
        "get": {
            **_op(
                "events",
                "Server-sent `mailbox` events when new mail arrives; not activity.",
                {
                    "200": {
                        "description": "An event stream.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                },
                _SESSION_ERRORS + _IMAP_ERRORS,
                tag="events",
            )
        }
    },
    "/api/proxy/image": {
        "get": _op(
            "get_proxied_image",
            "A remote image of a message, fetched by the privacy proxy. The URL is signed "
            "for one session and message by body.html?remote=allow; no cookie needed, "
            "not activity. 404 when the operator has not enabled the proxy.",
            {
                "200": {
                    "description": "The image (PNG, JPEG, GIF or WebP, by content).",
                    "content": {
                        t: {"schema": {"type": "string"}}
                        for t in ("image/png", "image/jpeg", "image/gif", "image/webp")
                    },
                }
            },
            (403, 404, 502, 503),
            tag="proxy",
            params=[
                _q("u", {"type": "string"}, "The image URL (signed)."),
                _q("s", {"type": "string"}, "The session it is signed for."),
                _q("m", {"type": "string"}, "The message it is signed for."),
                _q("e", {"type": "string"}, "Expiry, Unix seconds."),
                _q("t", {"type": "string"}, "The signature."),
            ],
            public=True,
        )
    },
    "/api/openapi.json": {
        "get": _op(
            "openapi",
            "This document.",
            {"200": _json({"type": "object"}, "The OpenAPI document.")},
            (),
            tag="operations",
            public=True,
        )
    },
    "/healthz": {
        "get": _op(
            "healthz",
            "Liveness; no personal data.",
            {"200": _json(_obj({"status": {"const": "ok"}}), "Alive.")},
            (),
            tag="operations",
            public=True,
        )
    },
    "/readyz": {
        "get": _op(
            "readyz",
            "Readiness: the session store and the IMAP server are reachable.",
            {
                "200": _json(_ref("Ready"), "Ready."),
                "503": _json(_ref("Ready"), "Not ready; `checks` says what is missing."),
            },
            (),
            tag="operations",
            public=True,
        )
    },
    "/metrics": {
        "get": _op(
            "metrics",
            "Prometheus text, aggregate counters only (when enabled).",
            {
                "200": {
                    "description": "Metrics.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
            (),
            tag="operations",
            public=True,
        )
    },
}
SCHEMAS["PreferencesBody"] = _obj(
    {"preferences": _ref("Preferences"), "retained_until": {"type": ["string", "null"]}}
)
_CHECK = {"enum": ["ok", "unavailable"]}
SCHEMAS["Ready"] = _obj(
    {"status": {"enum": ["ok", "unavailable"]}, "checks": _obj({"store": _CHECK, "imap": _CHECK})}
)

# Which feature module serves each path (mailgate/api/<module>.py).
MODULE_OF: dict[str, str] = {
    "/api/session": "session",
    "/api/mailboxes": "mailboxes",
    "/api/mailboxes/{mailbox_id}/messages": "mailboxes",
    "/api/uploads": "uploads",
    "/api/uploads/{upload_id}": "uploads",
    "/api/send": "send",
    "/api/drafts": "send",
    "/api/preferences": "preferences",
    "/api/events": "events",
    "/api/proxy/image": "proxy",
    "/api/openapi.json": "openapi",
    "/healthz": "health",
    "/readyz": "health",
    "/metrics": "metrics",
}
for _p in OPERATIONS:
    if _p.startswith("/api/messages/"):
        MODULE_OF[_p] = "messages"

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


def _secured(method: str, operation: dict[str, Any]) -> dict[str, Any]:
    if "security" in operation:
        return operation
    needs = {"session": []} | ({"csrf": []} if method in UNSAFE else {})
    return {**operation, "security": [needs]}


def document(paths: set[str], server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the given subset of `OPERATIONS` paths."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "mailgate",
            "version": "1",
            "description": "Privacy-respecting webmail session backend (contract v1, API.md).",
        },
        "paths": {
            p: {m: _secured(m, op) for m, op in ops.items()}
            for p, ops in OPERATIONS.items()
            if p in paths
        },
        "components": {"schemas": SCHEMAS, "securitySchemes": _SECURITY},
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
