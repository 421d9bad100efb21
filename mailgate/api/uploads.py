"""POST /api/uploads and DELETE /api/uploads/{id}: attachments held encrypted for a session."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from mailgate.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from mailgate.http.json_io import json_response
from mailgate.mail.mime_read import safe_filename
from mailgate.services import Services, services
from mailgate.vault.interface import Vault

from .auth import require_session

__all__ = ["setup", "vault_of"]

_MULTIPART_OVERHEAD = 64 * 1024
_CONTENT_TYPE_OK = set("abcdefghijklmnopqrstuvwxyz0123456789!#$&-^_.+/")


def vault_of(svc: Services) -> Vault:
    return svc.vault


def _content_type(value: str | None) -> str:
    value = (value or "application/octet-stream").split(";")[0].strip().lower()
    if value.count("/") != 1 or len(value) > 100 or not set(value) <= _CONTENT_TYPE_OK:
        return "application/octet-stream"
    if value.startswith(("message/", "multipart/")):
        # Sent as a file (base64) all the same: only a message mailgate read from the
        # mail server itself goes out as message/rfc822 (mailgate/mail/forward.py).
        return "application/octet-stream"
    return value


async def _chunks(reader: MultipartReader, part: BodyPartReader) -> AsyncIterator[bytes]:
    """The file's bytes. The body must end right after it, with the closing boundary:
    a truncated body or a second part fails before the vault keeps anything."""
    try:
        while chunk := await part.read_chunk(64 * 1024):
            yield chunk
        if not part.at_eof():  # the body ended before the part's boundary
            raise BadRequest("The multipart body is not valid.")
        if await reader.next() is not None:
            raise BadRequest("Send one multipart field named 'file'.")
    except (ValueError, AssertionError, HttpProcessingError):
        raise BadRequest("The multipart body is not valid.") from None


async def upload(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    limits = svc.config.limits
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data.")
    vault = vault_of(svc)
    count, used = await vault.usage(session.lookup)
    if count >= limits.session_upload_max_files:
        raise PayloadTooLarge("This session holds as many files as it may.")
    room = min(limits.upload_max_bytes, limits.session_upload_max_bytes - used)
    if room <= 0:
        raise PayloadTooLarge("This session's upload space is used up.")
    if request.content_length is not None and request.content_length > room + _MULTIPART_OVERHEAD:
        raise PayloadTooLarge("The file is larger than the upload limit.")
    try:
        reader = await request.multipart()
        part = await reader.next()
    except (ValueError, AssertionError, KeyError, HttpProcessingError):
        raise BadRequest("The multipart body is not valid.") from None
    if not isinstance(part, BodyPartReader) or part.name != "file":
        raise BadRequest("Send one multipart field named 'file'.")
    content_type = _content_type(part.headers.get("Content-Type"))
    filename = safe_filename(part.filename, content_type)
    try:
        info = await vault.put(
            session.lookup,
            session.keys.upload_key,
            filename,
            content_type,
            _chunks(reader, part),
            max_bytes=room,
            expires_at=session.record.absolute_deadline,
        )
    except ValueError:
        raise BadRequest("The multipart body is not valid.") from None
    return json_response(info.as_json(), status=201)


async def delete_upload(request: web.Request) -> web.Response:
    session = await require_session(request)
    if not await vault_of(services(request)).delete(
        session.lookup, request.match_info["upload_id"]
    ):
        raise NotFound()
    return web.Response(status=204)


async def list_uploads(request: web.Request) -> web.Response:
    session = await require_session(request)
    items = await vault_of(services(request)).list(session.lookup, session.keys.upload_key)
    return json_response({"uploads": [i.as_json() for i in items]})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/uploads", upload)
    app.router.add_get("/api/uploads", list_uploads)
    app.router.add_delete("/api/uploads/{upload_id}", delete_upload)
