"""One message: view, sanitized HTML body, attachments, raw source, flags, move, delete."""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from mailgate.errors import NotFound, StoreUnavailable
from mailgate.http.headers import DOWNLOAD_CSP, FRAME_CSP
from mailgate.http.json_io import json_response
from mailgate.http.streaming import write_or_cut
from mailgate.mail.cache import SessionCache
from mailgate.mail.decoding import decode_stream
from mailgate.mail.ids import MessageRef, decode_mailbox_id, decode_message_id, message_id
from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.errors import ImapError, ImapNoError
from mailgate.mail.imap.parse import BodyPart
from mailgate.mail.mime_read import AttachmentInfo, extract_part
from mailgate.mail.reader import (
    INLINE_MAX,
    OpenedMessage,
    check_validity,
    open_message,
    summary_json,
)
from mailgate.mail.sanitize import html_document, sanitize_html, text_to_html
from mailgate.services import Services, services
from mailgate.session.manager import Session

from .auth import require_session
from .models.base import read_body
from .models.messages import FlagsUpdate, Move
from .preferences import preferences_of
from .proxy import image_proxy

__all__ = ["DOWNLOAD_TYPES", "setup"]

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
_CID_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_CID_MAX_BYTES = 2 * 1024 * 1024
_CID_TOTAL_BYTES = 8 * 1024 * 1024


def _cache(svc: Services) -> SessionCache:
    return svc.message_cache


def _ref(request: web.Request) -> MessageRef:
    return decode_message_id(request.match_info["message_id"])


def _base(ref: MessageRef) -> str:
    return f"/api/messages/{ref.id}"


async def _opened(
    request: web.Request, session: Session, ref: MessageRef, *, peek: bool
) -> OpenedMessage:
    svc = services(request)
    cached = _cache(svc).get(session.lookup, ref.id)
    if cached is not None and peek:
        return cached

    async def op(client: MailClient) -> OpenedMessage:
        return await open_message(client, ref, peek=peek)

    opened = await svc.pool.run(session.lookup, session.credentials, op)
    if not peek:
        opened.flags = opened.flags | {"\\Seen"}
    _cache(svc).put(session.lookup, ref.id, opened)
    return opened


async def get_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    peek = request.query.get("peek") in ("1", "true")
    opened = await _opened(request, session, ref, peek=peek)
    body = opened.as_json(_base(ref))
    body["remote_content_blocked"] = _remote_blocked(opened)
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


def _remote_blocked(opened: OpenedMessage) -> int:
    """How many remote resources the sanitizer removes from this message's HTML."""
    if "remote_blocked" not in opened.sanitized:
        view = opened.view
        if view.html is None:
            opened.sanitized["remote_blocked"] = 0
        else:
            cleaned = sanitize_html(view.html, cid_urls={})
            opened.sanitized["remote_blocked"] = cleaned.remote_blocked
            if not _cid_images(opened):
                # Nothing to point cid: images at, so this is already the frame's document
                # (body.html then needs no second sanitizing pass).
                opened.sanitized["cid_urls"] = {}
                opened.sanitized.setdefault(
                    "document", html_document(cleaned.body, title=view.subject)
                )
    return opened.sanitized["remote_blocked"]


def _cid_images(opened: OpenedMessage) -> list[AttachmentInfo]:
    """The message's own images that `cid:` references in its HTML may show."""
    return [
        a
        for a in opened.view.attachments
        if a.content_id and a.content_type in _CID_IMAGE_TYPES and a.size <= _CID_MAX_BYTES
    ]


async def _cid_urls(
    request: web.Request, session: Session, opened: OpenedMessage
) -> dict[str, str]:
    """Inline images referenced by Content-ID, as data: URLs of the message's own parts
    (the sandboxed frame has an opaque origin and could not fetch them with the cookie)."""
    wanted = _cid_images(opened)
    if not wanted:
        return {}
    urls: dict[str, str] = {}
    total = 0
    data_by_part: dict[str, bytes] = {}
    if opened.whole:
        svc = services(request)

        async def fetch_whole(client: MailClient) -> bytes | None:
            await check_validity(client, opened.ref, readonly=True)
            fetched = await client.fetch_message(
                opened.ref.mailbox, opened.ref.uid, peek=True, max_inline=INLINE_MAX
            )
            return fetched.raw if fetched is not None else None

        raw = await svc.pool.run(session.lookup, session.credentials, fetch_whole)
        for a in wanted:
            found = extract_part(raw, a.part) if raw else None
            if found is not None:
                data_by_part[a.part] = found[1]
    else:
        for a in wanted:
            data_by_part[a.part] = await _read_part_bytes(
                request, session, opened, a.part, _CID_MAX_BYTES
            )
    for a in wanted:
        data = data_by_part.get(a.part)
        if not data or total + len(data) > _CID_TOTAL_BYTES:
            continue
        total += len(data)
        urls[a.content_id] = f"data:{a.content_type};base64,{base64.b64encode(data).decode()}"
    return urls


async def body_html(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    opened = await _opened(request, session, ref, peek=True)
    view = opened.view
    # With `?remote=allow` and the proxy enabled, remote images point at freshly signed
    # proxy URLs, so that document is never cached; without, everything remote is gone.
    remote = request.query.get("remote") == "allow" and view.html is not None
    proxy = image_proxy(request.app) if remote else None
    document = None if proxy is not None else opened.sanitized.get("document")
    if document is None:
        if view.html is not None:
            cid_urls = opened.sanitized.get("cid_urls")
            if cid_urls is None:
                cid_urls = await _cid_urls(request, session, opened)
                if image_proxy(request.app) is not None:
                    # Kept for the documents with proxied images, which are not cached;
                    # otherwise the cached document is the one copy of these images.
                    opened.sanitized["cid_urls"] = cid_urls
            rewrite = proxy.rewriter(session.lookup, ref.id) if proxy is not None else None
            cleaned = sanitize_html(view.html, cid_urls=cid_urls, remote_image_url=rewrite)
            document = html_document(cleaned.body, title=view.subject)
        else:
            document = html_document(text_to_html(view.text or ""), title=view.subject)
        if proxy is None:
            opened.sanitized["document"] = document
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


def _download_headers(filename: str, content_type: str) -> dict[str, str]:
    return {
        "Content-Type": content_type
        if content_type in DOWNLOAD_TYPES
        else "application/octet-stream",
        "Content-Disposition": _disposition(filename),
        "Content-Security-Policy": DOWNLOAD_CSP,
    }


def _find_part(root: BodyPart | None, number: str) -> BodyPart | None:
    if root is None:
        return None
    for node in root.walk():
        if node.part == number and not node.is_multipart:
            return node
    if number == "1" and not root.is_multipart:
        return root
    return None


async def _read_part_bytes(
    request: web.Request, session: Session, opened: OpenedMessage, part: str, limit: int
) -> bytes:
    svc = services(request)
    leaf = _find_part(opened.structure, part)

    async def op(client: MailClient) -> bytes:
        await check_validity(client, opened.ref, readonly=True)
        out = bytearray()
        async with await client.stream_section(opened.ref.mailbox, opened.ref.uid, part) as stream:
            chunks = (
                stream if stream.decoded else decode_stream(stream, leaf.encoding if leaf else None)
            )
            async for chunk in chunks:
                out += chunk
                if len(out) > limit:
                    break
        return bytes(out)

    return await svc.pool.run(session.lookup, session.credentials, op)


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


async def get_part(request: web.Request) -> web.StreamResponse:
    session = await require_session(request)
    ref = _ref(request)
    part = request.match_info["part"]
    if not _PART.match(part):
        raise NotFound()
    svc = services(request)

    async def op(client: MailClient) -> web.StreamResponse:
        await check_validity(client, ref, readonly=True)
        fetched = await client.fetch_message(ref.mailbox, ref.uid, peek=True, max_inline=INLINE_MAX)
        if fetched is None:
            raise NotFound("That message does not exist (any more).")
        if fetched.raw is not None:
            found = extract_part(fetched.raw, part)
            if found is None:
                raise NotFound("The message has no such part.")
            info, data = found
            return await _relay(
                request, _download_headers(info.filename, info.content_type), _once(data), len(data)
            )
        leaf = _find_part(fetched.bodystructure, part)
        if leaf is None:
            raise NotFound("The message has no such part.")
        from mailgate.mail.mime_read import safe_filename

        headers = _download_headers(
            safe_filename(leaf.filename, leaf.content_type.lower()), leaf.content_type.lower()
        )
        return await _stream(request, client, ref, part, headers, leaf.encoding)

    return await svc.pool.run(session.lookup, session.credentials, op)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _stream(
    request: web.Request,
    client: MailClient,
    ref: MessageRef,
    section: str,
    headers: dict[str, str],
    encoding: str | None,
) -> web.StreamResponse:
    async with await client.stream_section(ref.mailbox, ref.uid, section) as stream:
        chunks = stream if stream.decoded or section == "" else decode_stream(stream, encoding)
        size = stream.size if (stream.decoded or section == "") else None
        try:
            return await _relay(request, headers, chunks, size)
        except ImapError:
            # Headers are already sent: the only honest answer is to cut the response.
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("upstream failed mid-download") from None


async def get_raw(request: web.Request) -> web.StreamResponse:
    session = await require_session(request)
    ref = _ref(request)
    svc = services(request)
    headers = {
        "Content-Type": "message/rfc822",
        "Content-Disposition": _disposition("message.eml"),
        "Content-Security-Policy": DOWNLOAD_CSP,
    }

    async def op(client: MailClient) -> web.StreamResponse:
        await check_validity(client, ref, readonly=True)
        if not await client.exists(ref.mailbox, ref.uid):
            raise NotFound("That message does not exist (any more).")
        return await _stream(request, client, ref, "", headers, None)

    return await svc.pool.run(session.lookup, session.credentials, op)


async def _summary(client: MailClient, ref: MessageRef) -> dict[str, Any]:
    summaries = await client.summaries(ref.mailbox, [ref.uid], uidvalidity=ref.uidvalidity)
    if not summaries:
        raise NotFound("That message does not exist (any more).")
    return summary_json(ref.mailbox, ref.uidvalidity, summaries[0])


async def patch_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    svc = services(request)
    update = await read_body(request, FlagsUpdate, svc.config.limits.json_max_bytes)
    seen, flagged = update.changes()

    async def op(client: MailClient) -> dict[str, Any]:
        await check_validity(client, ref, readonly=False)
        try:
            await client.store_flags(ref.mailbox, ref.uid, seen=seen, flagged=flagged)
        except ImapNoError:
            raise NotFound("That message does not exist (any more).") from None
        return await _summary(client, ref)

    summary = await svc.pool.run(session.lookup, session.credentials, op)
    _cache(svc).drop(session.lookup, ref.id)
    return json_response(summary)


async def move_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    svc = services(request)
    move = await read_body(request, Move, svc.config.limits.json_max_bytes)
    target = decode_mailbox_id(move.mailbox)

    async def op(client: MailClient) -> str | None:
        await check_validity(client, ref, readonly=False)
        try:
            moved = await client.move(ref.mailbox, ref.uid, target)
        except ImapNoError:
            raise NotFound("The message or the target mailbox does not exist.") from None
        if moved is None:
            return None
        state = await client.select(target, readonly=True)
        return message_id(target, state.uidvalidity, moved)

    new_id = await svc.pool.run(session.lookup, session.credentials, op)
    _cache(svc).drop(session.lookup, ref.id)
    return json_response({"id": new_id})


async def delete_message(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = _ref(request)
    svc = services(request)

    async def op(client: MailClient) -> None:
        boxes = await client.mailboxes()
        trash = next((b.path for b in boxes if b.role == "trash"), None)
        await check_validity(client, ref, readonly=False)
        try:
            if trash is None or trash == ref.mailbox:
                await client.expunge_uid(ref.mailbox, ref.uid)
            else:
                await client.move(ref.mailbox, ref.uid, trash)
        except ImapNoError:
            raise NotFound("That message does not exist (any more).") from None

    await svc.pool.run(session.lookup, session.credentials, op)
    _cache(svc).drop(session.lookup, ref.id)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/messages/{message_id}", get_message)
    app.router.add_patch("/api/messages/{message_id}", patch_message)
    app.router.add_delete("/api/messages/{message_id}", delete_message)
    app.router.add_get("/api/messages/{message_id}/body.html", body_html)
    app.router.add_get("/api/messages/{message_id}/raw", get_raw)
    app.router.add_get("/api/messages/{message_id}/parts/{part}", get_part)
    app.router.add_post("/api/messages/{message_id}/move", move_message)
