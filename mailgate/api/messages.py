"""One message: view, sanitized HTML body, attachments, raw source, flags, move, delete.

Thin handlers over the reading service (`mailgate.mail.reading`), which fetches, renders
off the event loop and caches; here: request parsing, preferences, HTTP framing.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from mailgate.errors import NotFound, StoreUnavailable
from mailgate.http.headers import DOWNLOAD_CSP, FRAME_CSP
from mailgate.http.json_io import json_response
from mailgate.http.streaming import write_or_cut
from mailgate.mail.bulk import act_on_messages
from mailgate.mail.drafts import UploadLimits, resume_draft
from mailgate.mail.forward import attach_message
from mailgate.mail.ids import MessageRef, decode_mailbox_id, decode_message_id
from mailgate.mail.reading.opened import OpenedMessage
from mailgate.mail.reading.render import SignedImageUrls
from mailgate.mail.reading.service import Download, DownloadCut, ReadingService
from mailgate.services import services
from mailgate.session.manager import Session

from .auth import require_session
from .models.base import read_body
from .models.messages import BulkAction, FlagsUpdate, Move
from .preferences import preferences_of
from .proxy import image_proxy

__all__ = ["DOWNLOAD_TYPES", "reading", "setup"]

_PART = re.compile(r"^[1-9][0-9]{0,4}(\.[1-9][0-9]{0,4}){0,19}$")
DOWNLOAD_TYPES = {
    "application/pdf",
    "application/zip",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "audio/mpeg",
    "video/mp4",
}


def reading(request: web.Request) -> ReadingService:
    return services(request).reading


def _ref(request: web.Request) -> MessageRef:
    return decode_message_id(request.match_info["message_id"])


def _base(ref: MessageRef) -> str:
    return f"/api/messages/{ref.id}"


async def get_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    peek = request.query.get("peek") in ("1", "true")
    opened = await reading(request).open(session.lookup, session.credentials, ref, peek=peek)
    body = opened.as_json(_base(ref))
    body["remote_content_blocked"] = opened.rendered.remote_blocked
    body["remote_allowed"] = bool(body["remote_content_blocked"]) and await _sender_trusted(
        request, session, opened
    )
    if body["remote_allowed"]:
        body["html_url"] += "?remote=allow"
    return json_response(body)


async def _sender_trusted(request: web.Request, session: Session, opened: OpenedMessage) -> bool:
    """Whether the reader chose to always load remote images from this sender (an address
    or its whole domain in `remote_images_senders`), with the proxy enabled."""
    if image_proxy(request.app) is None:
        return False
    senders = {a.get("email", "").strip().lower() for a in opened.view.from_}
    senders.discard("")
    if not senders:
        return False
    try:
        prefs, _ = await preferences_of(request.app).load(session.email)
    except StoreUnavailable:
        return False  # an optional nicety: the images stay blocked, the message opens
    trusted = set(prefs.get("remote_images_senders", ()))
    return any(s in trusted or s.rpartition("@")[2] in trusted for s in senders)


async def body_html(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    proxy = image_proxy(request.app) if request.query.get("remote") == "allow" else None
    document = await reading(request).document(
        session.lookup,
        session.credentials,
        ref,
        proxied=SignedImageUrls(proxy.signer, session.lookup, ref.id) if proxy else None,
        # Served again while its signed URLs have at least half their life left.
        proxied_lifetime_s=proxy.config.url_lifetime_s / 2 if proxy else 0.0,
    )
    return web.Response(
        text=document,
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": FRAME_CSP},
    )


def _disposition(filename: str) -> str:
    fallback = (
        "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "download"
    )
    encoded = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


async def _relay(
    request: web.Request, headers: dict[str, str], chunks: AsyncIterator[bytes], size: int | None
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    if size is not None:
        response.content_length = size
    await response.prepare(request)
    stall = services(request).config.server.response_write_timeout_s
    async for chunk in chunks:
        await write_or_cut(request, response, chunk, stall)
    await response.write_eof()
    return response


def _download_headers(download: Download) -> dict[str, str]:
    return {
        "Content-Type": download.content_type
        if download.content_type in DOWNLOAD_TYPES
        else "application/octet-stream",
        "Content-Disposition": _disposition(download.filename),
        "Content-Security-Policy": DOWNLOAD_CSP,
    }


def _sender(
    request: web.Request, raw: bool
) -> Callable[[Download, AsyncIterator[bytes]], Awaitable[web.StreamResponse]]:
    async def send(download: Download, chunks: AsyncIterator[bytes]) -> web.StreamResponse:
        headers = _download_headers(download)
        if raw:
            headers["Content-Type"] = "message/rfc822"
        try:
            return await _relay(request, headers, chunks, download.size)
        except DownloadCut:
            # Headers are already sent: the only honest answer is to cut the response.
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("upstream failed mid-download") from None

    return send


async def get_part(request: web.Request) -> web.StreamResponse:
    session = await require_session(request)
    ref = _ref(request)
    part = request.match_info["part"]
    if not _PART.match(part):
        raise NotFound()
    return await reading(request).download_part(
        session.lookup, session.credentials, ref, part, _sender(request, raw=False)
    )


async def get_preview(request: web.Request) -> web.Response:
    """A small PNG of an image attachment or a PDF's first page, made by a reading worker."""
    session = await require_session(request)
    ref = _ref(request)
    part = request.match_info["part"]
    if not _PART.match(part):
        raise NotFound()
    png = await reading(request).attachment_preview(session.lookup, session.credentials, ref, part)
    return web.Response(
        body=png,
        content_type="image/png",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


async def get_raw(request: web.Request) -> web.StreamResponse:
    session = await require_session(request)
    return await reading(request).download_raw(
        session.lookup, session.credentials, _ref(request), _sender(request, raw=True)
    )


def _upload_limits(request: web.Request, session: Session) -> UploadLimits:
    limits = services(request).config.limits
    return UploadLimits(
        file_max_bytes=limits.upload_max_bytes,
        session_max_bytes=limits.session_upload_max_bytes,
        session_max_files=limits.session_upload_max_files,
        expires_at=session.record.absolute_deadline,
    )


async def get_headers(request: web.Request) -> web.Response:
    """Every header field, in order (the reader's "Show headers")."""
    session = await require_session(request)
    found = await reading(request).headers(session.lookup, session.credentials, _ref(request))
    return json_response(
        {
            "headers": [{"name": name, "value": value} for name, value in found.fields],
            "truncated": found.truncated,
        }
    )


async def get_draft(request: web.Request) -> web.Response:
    """A saved message as compose fields, its attachments copied into this session's
    uploads (mailgate/mail/drafts.py)."""
    session = await require_session(request)
    resumed = await resume_draft(
        reading(request),
        services(request).vault,
        lookup=session.lookup,
        credentials=session.credentials,
        upload_key=session.keys.upload_key,
        ref=_ref(request),
        limits=_upload_limits(request, session),
    )
    return json_response(resumed.as_json())


async def attach_as_upload(request: web.Request) -> web.Response:
    """The message, whole, as a new upload: forwarding as an attachment
    (mailgate/mail/forward.py)."""
    session = await require_session(request)
    info = await attach_message(
        reading(request),
        services(request).vault,
        lookup=session.lookup,
        credentials=session.credentials,
        upload_key=session.keys.upload_key,
        ref=_ref(request),
        limits=_upload_limits(request, session),
    )
    return json_response(info.as_json(), status=201)


async def patch_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    svc = services(request)
    update = await read_body(request, FlagsUpdate, svc.config.limits.json_max_bytes)
    seen, flagged = update.changes()
    summary = await reading(request).set_flags(
        session.lookup, session.credentials, ref, seen=seen, flagged=flagged
    )
    return json_response(summary)


async def move_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    svc = services(request)
    move = await read_body(request, Move, svc.config.limits.json_max_bytes)
    target = decode_mailbox_id(move.mailbox)
    new_id = await reading(request).move(session.lookup, session.credentials, ref, target)
    return json_response({"id": new_id})


async def junk_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = reading(request)
    new_id = await svc.junk(session.lookup, session.credentials, _ref(request), junk=True)
    return json_response({"id": new_id})


async def not_junk_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = reading(request)
    new_id = await svc.junk(session.lookup, session.credentials, _ref(request), junk=False)
    return json_response({"id": new_id})


async def archive_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    new_id = await reading(request).archive(session.lookup, session.credentials, _ref(request))
    return json_response({"id": new_id})


async def restore_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    new_id = await reading(request).restore(session.lookup, session.credentials, _ref(request))
    return json_response({"id": new_id})


async def delete_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    await reading(request).delete(session.lookup, session.credentials, _ref(request))
    return web.Response(status=204)


async def message_actions(request: web.Request) -> web.Response:
    """One action on many messages (mailgate/mail/bulk.py): a result for each."""
    session = await require_session(request)
    svc = services(request)
    body = await read_body(request, BulkAction, svc.config.limits.json_max_bytes)
    target = decode_mailbox_id(body.mailbox) if isinstance(body.mailbox, str) else None
    results = await act_on_messages(
        reading(request), session.lookup, session.credentials, body.action, body.ids, target
    )
    return json_response({"results": [r.as_json() for r in results]})


def setup(app: web.Application) -> None:
    # Before the routes with {message_id}, whose path it would match too.
    app.router.add_post("/api/messages/actions", message_actions)
    app.router.add_get("/api/messages/{message_id}", get_message)
    app.router.add_patch("/api/messages/{message_id}", patch_message)
    app.router.add_delete("/api/messages/{message_id}", delete_message)
    app.router.add_get("/api/messages/{message_id}/body.html", body_html)
    app.router.add_get("/api/messages/{message_id}/raw", get_raw)
    app.router.add_get("/api/messages/{message_id}/headers", get_headers)
    app.router.add_get("/api/messages/{message_id}/parts/{part}", get_part)
    app.router.add_get("/api/messages/{message_id}/parts/{part}/preview", get_preview)
    app.router.add_get("/api/messages/{message_id}/draft", get_draft)
    app.router.add_post("/api/messages/{message_id}/attachment", attach_as_upload)
    app.router.add_post("/api/messages/{message_id}/move", move_message)
    app.router.add_post("/api/messages/{message_id}/junk", junk_message)
    app.router.add_post("/api/messages/{message_id}/not-junk", not_junk_message)
    app.router.add_post("/api/messages/{message_id}/archive", archive_message)
    app.router.add_post("/api/messages/{message_id}/restore", restore_message)
