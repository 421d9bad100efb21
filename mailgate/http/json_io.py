"""JSON in and out: strict parsing with limits (what the body holds is checked by the
request types in mailgate/api/models/)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from mailgate.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["encode_json", "json_body_response", "json_response", "read_json"]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_json(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON, as every response sends it."""
    return _dumps(data).encode()


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return json_body_response(encode_json(data), status, headers)


def json_body_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A response of JSON already encoded (by ``encode_json``)."""
    return web.Response(
        body=body,
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BadRequest("The JSON body has a duplicate key.")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise BadRequest("The JSON body has a value that is not valid JSON.")


def _check_unicode(data: Any) -> None:
    """Refuse lone surrogates (valid JSON escapes, but no UTF-8 text: a 500 later).
    Iterative, so a deeply nested body cannot exhaust the stack."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest("The body has text that is not valid Unicode.") from None
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())


async def read_json(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """A JSON object from the body: right media type, within the size limit, no
    duplicate keys, no lone surrogates; anything else is a 4xx."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge("The JSON body is larger than the limit.")
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge("The JSON body is larger than the limit.")
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    _check_unicode(data)
    return data
