"""The reading service: from an upstream message to the views the API serves.

The IMAP steps run on the session's connection (`ImapPool`); every CPU-heavy step runs in
the worker pool under a deadline, outside the IMAP lock; results are kept in the render
cache. Whatever a message holds, opening it yields a view: the full one, or the degraded
one (readable headers, a notice, the raw download), never an error of ours.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mailgate.errors import BadRequest, NotFound
from mailgate.logs import log_event
from mailgate.mail.decoding import decode_stream
from mailgate.mail.folders import FolderError, ensure_special
from mailgate.mail.headers import HeaderFields, header_fields
from mailgate.mail.ids import MessageRef, decode_message_id, message_id
from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.errors import ImapError, ImapNoError
from mailgate.mail.imap.parse import BodyPart
from mailgate.mail.mime_read import AttachmentInfo, extract_part, safe_filename
from mailgate.mail.pool import Credentials, ImapPool
from mailgate.mail.reader import (
    INLINE_MAX,
    FetchedForReading,
    check_validity,
    fetch_for_reading,
    summary_json,
)

from .limits import ReadingLimits, scan_mime
from .opened import OpenedMessage, RenderCache
from .render import (
    CID_MAX_BYTES,
    Rendered,
    cid_images,
    degrade,
    degraded_view,
    render_document,
    render_structured,
    render_whole,
)
from .thumbnail import (
    PDF_MAX_BYTES,
    PDF_TYPES,
    PREVIEW_MAX_BYTES,
    PREVIEW_TYPES,
    pdf_thumbnail,
    thumbnail,
)
from .workers import WorkerFailed, WorkerPool, WorkerTimeout

__all__ = ["Download", "DownloadCut", "ReadingService"]

T = TypeVar("T")
CredentialsFn = Callable[[], Credentials]
ImageRewriter = Callable[[str], str | None]
# A preview maker of thumbnail.py, run in a reading worker.
_Maker = Callable[[bytes], bytes]

_CID_TOTAL_BYTES = 8 * 1024 * 1024
# Whole messages up to this size would be rendered in-process. Measured on the 2-core
# bench machine: shapes built to be slow within the limits cost up to ~47 ms at 8 KiB
# in-process (`benchmarks/hostile.py --inline-bound`), far more than a worker round trip
# (~0.13 ms on a quiet server, where the event loop writes to the worker's socket itself;
# several ms under 50 busy sessions, benchmarks/README.md), while `open` through the pool
# stays within its 1.5x target (`benchmarks/latency.py`: 1.23-1.42x). So nothing is
# rendered on the event loop.
INPROCESS_MAX = 0


class _Abandoned(Exception):
    """The request that was opening a message went away before the open ended."""


class DownloadCut(Exception):
    """The upstream failed after the download's first bytes were sent."""


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    size: int | None  # None when only the encoded size is known


Sender = Callable[[Download, AsyncIterator[bytes]], Awaitable[T]]


def _find_part(root: BodyPart | None, number: str) -> BodyPart | None:
    if root is None:
        return None
    for node in root.walk():
        if node.part == number and not node.is_multipart:
            return node
    if number == "1" and not root.is_multipart:
        return root
    return None


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _guarded(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    except ImapError:
        raise DownloadCut() from None


def _extract_checked(
    raw: bytes, part: str, limits: ReadingLimits
) -> tuple[AttachmentInfo, bytes] | None:
    """`extract_part`, for a message within the limits only (runs in a worker)."""
    if scan_mime(raw, limits).exceeded is not None:
        return None
    return extract_part(raw, part)


# Origins kept per session for "Restore" (the oldest are forgotten first).
MAX_ORIGINS = 5_000
# The keywords spam filters learn from (IMAPSieve, rspamd, SpamAssassin set-ups).
JUNK_KEYWORDS = ("$Junk", "$NotJunk")


def _keep(book: dict[str, T], key: str, value: T) -> None:
    """Note ``value`` under ``key``, newest last; the oldest go past MAX_ORIGINS."""
    book.pop(key, None)
    book[key] = value
    while len(book) > MAX_ORIGINS:
        book.pop(next(iter(book)))


async def _set_keywords(
    client: MailClient, ref: MessageRef, *, add: list[str], remove: list[str]
) -> None:
    try:
        await client.set_keywords(ref.mailbox, ref.uid, add=add, remove=remove)
    except ImapNoError:
        # A server that keeps no keywords: the move alone still teaches the filter.
        log_event("junk_keyword_refused", logging.INFO)


class ReadingService:
    def __init__(
        self,
        pool: ImapPool,
        workers: WorkerPool,
        limits: ReadingLimits | None = None,
        *,
        inprocess_max: int = INPROCESS_MAX,
    ):
        self.pool = pool
        self.workers = workers
        self.limits = limits or ReadingLimits()
        self.cache = RenderCache()
        self.inprocess_max = inprocess_max
        # Per session: the mailbox a message came from, by its id where mailgate moved it
        # (Trash, Junk): "Restore" puts it back there. Memory only, wiped with the session.
        self.origins: dict[str, dict[str, str]] = {}
        # Per session: which of $Junk and $NotJunk a message marked as junk had before, by
        # its id in Junk: "Restore" (the UI's Undo) sets them back as they were.
        self.junk_marks: dict[str, dict[str, tuple[str, ...]]] = {}
        # Opens under way, by (session, message id): their shared result and whether
        # they are a peek.
        self._opening: dict[tuple[str, str], tuple[asyncio.Future[OpenedMessage], bool]] = {}

    # -- opening -----------------------------------------------------------------------

    async def open(
        self, lookup: str, credentials: CredentialsFn, ref: MessageRef, *, peek: bool
    ) -> OpenedMessage:
        """The message's view; unless ``peek``, it is marked \\Seen on the server.

        Requests for a message whose open is under way share it (the message JSON and its
        frame document are asked for at once): one FETCH, one rendering. A request that
        is not a peek, joining a peek, marks the message \\Seen afterwards, as a cache hit
        does; an error reaches every request that shares the open."""
        key = (lookup, ref.id)
        while True:
            cached = self.cache.get(lookup, ref.id)
            if cached is not None:
                if not peek:
                    await self._mark_seen(lookup, credentials, cached)
                return cached
            pending = self._opening.get(key)
            if pending is None:
                break
            shared, shared_peek = pending
            try:
                # Shielded: a request that goes away leaves the open to the others.
                opened = await asyncio.shield(shared)
            except _Abandoned:
                continue  # the request that opened it went away: open it anew
            if shared_peek and not peek:
                await self._mark_seen(lookup, credentials, opened)
            return opened
        shared = asyncio.get_running_loop().create_future()
        self._opening[key] = (shared, peek)
        try:
            opened = await self._fetch_and_render(lookup, credentials, ref, peek)
        except Exception as exc:
            shared.set_exception(exc)
            raise
        else:
            shared.set_result(opened)
        finally:
            del self._opening[key]
            if not shared.done():  # cancelled (the request went away), or worse
                shared.set_exception(_Abandoned())
            shared.exception()  # marks an error retrieved: no one may have shared it
        return opened

    async def _fetch_and_render(
        self, lookup: str, credentials: CredentialsFn, ref: MessageRef, peek: bool
    ) -> OpenedMessage:
        async def op(client: MailClient) -> FetchedForReading:
            return await fetch_for_reading(client, ref, peek=peek)

        fetched = await self.pool.run(lookup, credentials, op)
        rendered = await self._render(lookup, fetched)
        flags = fetched.flags | ({"\\Seen"} if not peek else set())
        opened = OpenedMessage(
            ref,
            frozenset(flags),
            fetched.size,
            fetched.internaldate,
            fetched.whole,
            fetched.structure,
            rendered,
        )
        self.cache.put(lookup, ref.id, opened)
        return opened

    async def _mark_seen(
        self, lookup: str, credentials: CredentialsFn, opened: OpenedMessage
    ) -> None:
        ref = opened.ref

        async def op(client: MailClient) -> None:
            await check_validity(client, ref, readonly=False)
            if not await client.exists(ref.mailbox, ref.uid):
                raise NotFound("That message does not exist (any more).")
            if "\\Seen" not in opened.flags:
                await client.store_flags(ref.mailbox, ref.uid, seen=True)

        try:
            await self.pool.run(lookup, credentials, op)
        except NotFound:
            self.cache.drop(lookup, ref.id)
            raise
        opened.flags = opened.flags | {"\\Seen"}

    async def _render(self, lookup: str, fetched: FetchedForReading) -> Rendered:
        deadline = self.limits.deadline_s
        try:
            if fetched.raw is not None and len(fetched.raw) <= self.inprocess_max:
                rendered = render_whole(fetched.raw, self.limits)
            elif fetched.raw is not None:
                rendered = await self.workers.run(
                    lookup, deadline, render_whole, fetched.raw, self.limits
                )
            else:
                rendered = await self.workers.run(
                    lookup,
                    deadline,
                    render_structured,
                    fetched.header,
                    fetched.texts,
                    fetched.attachments,
                    fetched.shape,
                    self.limits,
                )
        except WorkerTimeout:
            rendered = degraded_view(fetched.header, "deadline")
        except WorkerFailed:
            rendered = degraded_view(fetched.header, "failed")
        if rendered.refusals:
            # One line per rendering, whatever the message holds; the level is ours.
            log_event("message_reduced", logging.INFO, **rendered.refusals)
        return rendered

    # -- the frame document --------------------------------------------------------------

    async def document(
        self,
        lookup: str,
        credentials: CredentialsFn,
        ref: MessageRef,
        *,
        proxied: ImageRewriter | None = None,
        proxied_lifetime_s: float = 0.0,
    ) -> str:
        """The sanitized document for the message frame. With ``proxied``, remote images
        point at signed proxy URLs; that document is cached for ``proxied_lifetime_s``."""
        opened = await self.open(lookup, credentials, ref, peek=True)
        view = opened.view
        if view.html is None:
            proxied = None
        if proxied is None and opened.rendered.document is not None:
            return opened.rendered.document
        if proxied is not None and opened.proxied_document and time.time() < opened.proxied_until:
            return opened.proxied_document
        if opened.cid_urls is None:
            opened.cid_urls = await self._cid_urls(lookup, credentials, opened)
        try:
            document = await self.workers.run(
                lookup,
                self.limits.deadline_s,
                render_document,
                view.html or "",
                view.subject,
                opened.cid_urls,
                proxied,
            )
        except (WorkerTimeout, WorkerFailed) as exc:
            opened.rendered = degrade(
                view, "deadline" if isinstance(exc, WorkerTimeout) else "failed"
            )
            log_event("message_reduced", logging.INFO, **opened.rendered.refusals)
            return opened.rendered.document or ""
        if proxied is None:
            opened.rendered.document = document
            opened.cid_urls = {}  # the document holds the only copy of the images now
        else:
            opened.proxied_document = document
            opened.proxied_until = time.time() + proxied_lifetime_s
        return document

    async def _cid_urls(
        self, lookup: str, credentials: CredentialsFn, opened: OpenedMessage
    ) -> dict[str, str]:
        """Inline images referenced by Content-ID, as data: URLs of the message's own parts
        (the sandboxed frame has an opaque origin and could not fetch them with the cookie)."""
        wanted = cid_images(opened.view)
        if not wanted:
            return {}
        data_by_part: dict[str, bytes] = {}
        if opened.whole:
            raw = await self._raw_whole(lookup, credentials, opened.ref)
            for a in wanted:
                found = await self._extract(lookup, raw, a.part) if raw else None
                if found is not None:
                    data_by_part[a.part] = found[1]
        else:
            for a in wanted:
                data_by_part[a.part] = await self._part_bytes(
                    lookup, credentials, opened, a.part, CID_MAX_BYTES
                )
        urls: dict[str, str] = {}
        total = 0
        for a in wanted:
            data = data_by_part.get(a.part)
            if not data or total + len(data) > _CID_TOTAL_BYTES or a.content_id is None:
                continue
            total += len(data)
            urls[a.content_id] = f"data:{a.content_type};base64,{base64.b64encode(data).decode()}"
        return urls

    async def _raw_whole(
        self, lookup: str, credentials: CredentialsFn, ref: MessageRef
    ) -> bytes | None:
        async def op(client: MailClient) -> bytes | None:
            await check_validity(client, ref, readonly=True)
            fetched = await client.fetch_message(
                ref.mailbox, ref.uid, peek=True, max_inline=INLINE_MAX
            )
            return fetched.raw if fetched is not None else None

        return await self.pool.run(lookup, credentials, op)

    async def _extract(
        self, lookup: str, raw: bytes, part: str
    ) -> tuple[AttachmentInfo, bytes] | None:
        try:
            return await self.workers.run(
                lookup, self.limits.deadline_s, _extract_checked, raw, part, self.limits
            )
        except (WorkerTimeout, WorkerFailed):
            return None

    async def _part_bytes(
        self, lookup: str, credentials: CredentialsFn, opened: OpenedMessage, part: str, limit: int
    ) -> bytes:
        leaf = _find_part(opened.structure, part)
        ref = opened.ref

        async def op(client: MailClient) -> bytes:
            await check_validity(client, ref, readonly=True)
            out = bytearray()
            async with await client.stream_section(ref.mailbox, ref.uid, part) as stream:
                chunks = (
                    stream
                    if stream.decoded
                    else decode_stream(stream, leaf.encoding if leaf else None)
                )
                async for chunk in chunks:
                    out += chunk
                    if len(out) > limit:
                        break
            return bytes(out)

        return await self.pool.run(lookup, credentials, op)

    # -- downloads ---------------------------------------------------------------------

    async def download_part(
        self,
        lookup: str,
        credentials: CredentialsFn,
        ref: MessageRef,
        part: str,
        send: Sender[T],
    ) -> T:
        """Hand one part's decoded bytes to ``send`` (streamed for large messages)."""

        async def fetch(client: MailClient) -> tuple[bytes | None, BodyPart | None]:
            await check_validity(client, ref, readonly=True)
            fetched = await client.fetch_message(
                ref.mailbox, ref.uid, peek=True, max_inline=INLINE_MAX
            )
            if fetched is None:
                raise NotFound("That message does not exist (any more).")
            return fetched.raw, _find_part(fetched.bodystructure, part)

        raw, leaf = await self.pool.run(lookup, credentials, fetch)
        if raw is not None:
            found = await self._extract(lookup, raw, part)
            if found is None:
                raise NotFound("The message has no such part.")
            info, data = found
            return await send(Download(info.filename, info.content_type, len(data)), _once(data))
        if leaf is None:
            raise NotFound("The message has no such part.")
        content_type = leaf.content_type.lower()
        download = Download(safe_filename(leaf.filename, content_type), content_type, None)
        return await self._stream(lookup, credentials, ref, part, download, leaf.encoding, send)

    async def headers(
        self, lookup: str, credentials: CredentialsFn, ref: MessageRef
    ) -> HeaderFields:
        """Every header field of the message as the server stores it (never marks it read)."""

        async def op(client: MailClient) -> bytes:
            await check_validity(client, ref, readonly=True)
            got = await client.fetch_sections(ref.mailbox, ref.uid, ["HEADER"])
            if "HEADER" not in got:
                raise NotFound("That message does not exist (any more).")
            return got["HEADER"]

        block = await self.pool.run(lookup, credentials, op)
        return header_fields(block, self.limits)

    async def attachment_preview(
        self, lookup: str, credentials: CredentialsFn, ref: MessageRef, part: str
    ) -> bytes:
        """A small PNG made in a worker (thumbnail.py) from an image attachment, or from the
        first page of a PDF; NotFound for a part of another type, too large, or that does not
        decode (or is encrypted, or out of bounds)."""

        async def collect(
            download: Download, chunks: AsyncIterator[bytes]
        ) -> tuple[_Maker | None, bytes]:
            kind = download.content_type.lower()
            maker: _Maker | None = None
            cap = 0
            if kind in PREVIEW_TYPES:
                maker, cap = thumbnail, PREVIEW_MAX_BYTES
            elif kind in PDF_TYPES:
                maker, cap = pdf_thumbnail, PDF_MAX_BYTES
            out = bytearray()
            async for chunk in chunks:  # always to the end: the connection stays in step
                if len(out) <= cap:
                    out += chunk
            return maker, bytes(out) if 0 < len(out) <= cap else b""

        maker, data = await self.download_part(lookup, credentials, ref, part, collect)
        png = b""
        if maker is not None and data:
            try:
                png = await self.workers.run(lookup, self.limits.deadline_s, maker, data)
            except (WorkerTimeout, WorkerFailed):
                png = b""
        if not png:
            raise NotFound("That attachment has no preview.")
        return png

    async def download_raw(
        self, lookup: str, credentials: CredentialsFn, ref: MessageRef, send: Sender[T]
    ) -> T:
        """Hand the message as the server stores it to ``send``, streamed."""
        download = Download("message.eml", "message/rfc822", None)
        return await self._stream(lookup, credentials, ref, "", download, None, send)

    async def _stream(
        self,
        lookup: str,
        credentials: CredentialsFn,
        ref: MessageRef,
        section: str,
        download: Download,
        encoding: str | None,
        send: Sender[T],
    ) -> T:
        async def op(client: MailClient) -> T:
            await check_validity(client, ref, readonly=True)
            if section == "" and not await client.exists(ref.mailbox, ref.uid):
                raise NotFound("That message does not exist (any more).")
            async with await client.stream_section(ref.mailbox, ref.uid, section) as stream:
                plain = stream.decoded or section == ""
                chunks = stream if plain else decode_stream(stream, encoding)
                sized = Download(
                    download.filename, download.content_type, stream.size if plain else None
                )
                return await send(sized, _guarded(chunks))

        return await self.pool.run(lookup, credentials, op)

    # -- changes -----------------------------------------------------------------------

    async def set_flags(
        self,
        lookup: str,
        credentials: CredentialsFn,
        ref: MessageRef,
        *,
        seen: bool | None,
        flagged: bool | None,
    ) -> dict[str, Any]:
        async def op(client: MailClient) -> dict[str, Any]:
            await check_validity(client, ref, readonly=False)
            try:
                await client.store_flags(ref.mailbox, ref.uid, seen=seen, flagged=flagged)
            except ImapNoError:
                raise NotFound("That message does not exist (any more).") from None
            summaries = await client.summaries(ref.mailbox, [ref.uid], uidvalidity=ref.uidvalidity)
            if not summaries:
                raise NotFound("That message does not exist (any more).")
            return summary_json(ref.mailbox, ref.uidvalidity, summaries[0])

        try:
            return await self.pool.run(lookup, credentials, op)
        finally:
            self.cache.drop(lookup, ref.id)

    def _remember(
        self, lookup: str, new_id: str | None, origin: str, marks: tuple[str, ...] | None = None
    ) -> None:
        if new_id is None:
            return
        _keep(self.origins.setdefault(lookup, {}), new_id, origin)
        if marks is not None:
            _keep(self.junk_marks.setdefault(lookup, {}), new_id, marks)

    def _forget_moved(self, lookup: str, message: str) -> None:
        for book in (self.origins, self.junk_marks):
            book.get(lookup, {}).pop(message, None)

    async def _move_in(self, client: MailClient, ref: MessageRef, target: str) -> str | None:
        """Move one message (validity checked first); its new id when the server said."""
        await check_validity(client, ref, readonly=False)
        try:
            moved = await client.move(ref.mailbox, ref.uid, target)
        except ImapNoError:
            raise NotFound("The message or the target mailbox does not exist.") from None
        if moved is None:
            return None
        state = await client.select(target, readonly=True)
        return message_id(target, state.uidvalidity, moved)

    async def move(
        self, lookup: str, credentials: CredentialsFn, ref: MessageRef, target: str
    ) -> str | None:
        async def op(client: MailClient) -> str | None:
            return await self._move_in(client, ref, target)

        try:
            new_id = await self.pool.run(lookup, credentials, op)
        finally:
            self.cache.drop(lookup, ref.id)
        self._remember(lookup, new_id, ref.mailbox)
        return new_id

    async def junk(
        self, lookup: str, credentials: CredentialsFn, ref: MessageRef, *, junk: bool
    ) -> str | None:
        """Mark as junk: ``$Junk`` (and not ``$NotJunk``), moved to the Junk folder (made
        when there is none). Not junk: ``$NotJunk`` (and not ``$Junk``), moved to INBOX."""
        add, remove = ("$Junk", "$NotJunk") if junk else ("$NotJunk", "$Junk")

        marks: tuple[str, ...] = ()

        async def op(client: MailClient) -> str | None:
            nonlocal marks
            if junk:
                try:
                    target = await ensure_special(client, "junk")
                except FolderError:
                    raise NotFound("There is no Junk folder and none could be made.") from None
            else:
                target = "INBOX"
            if target == ref.mailbox:
                raise BadRequest("The message is already there.")
            await check_validity(client, ref, readonly=False)
            # Its flags as they are (a FETCH: nothing changes), for Undo.
            before = await client.store_flags(ref.mailbox, ref.uid)
            if before is None:
                raise NotFound("That message does not exist (any more).")
            lowered = {f.lower() for f in before}
            marks = tuple(k for k in JUNK_KEYWORDS if k.lower() in lowered)
            await _set_keywords(client, ref, add=[add], remove=[remove])
            return await self._move_in(client, ref, target)

        try:
            new_id = await self.pool.run(lookup, credentials, op)
        finally:
            self.cache.drop(lookup, ref.id)
        if junk:
            self._remember(lookup, new_id, ref.mailbox, marks)
        return new_id

    async def archive(self, lookup: str, credentials: CredentialsFn, ref: MessageRef) -> str | None:
        """Move to the Archive folder (``ensure_special``: the \\Archive mailbox, else a
        top-level "Archive", made on demand); the new id. 400 when already there."""

        async def op(client: MailClient) -> str | None:
            try:
                target = await ensure_special(client, "archive")
            except FolderError:
                raise NotFound("There is no Archive folder and none could be made.") from None
            if target == ref.mailbox:
                raise BadRequest("The message is in the Archive already.")
            return await self._move_in(client, ref, target)

        try:
            new_id = await self.pool.run(lookup, credentials, op)
        finally:
            self.cache.drop(lookup, ref.id)
        self._remember(lookup, new_id, ref.mailbox)
        return new_id

    async def restore(self, lookup: str, credentials: CredentialsFn, ref: MessageRef) -> str | None:
        """Back to the mailbox mailgate moved the message from, if known and still there,
        else INBOX; the new id. A message mailgate marked as junk gets its $Junk and
        $NotJunk back as they were (the UI's Undo of "Mark as junk")."""
        origin = self.origins.get(lookup, {}).get(ref.id)
        marks = self.junk_marks.get(lookup, {}).get(ref.id)

        async def op(client: MailClient) -> str | None:
            target = "INBOX"
            if origin and origin != ref.mailbox:
                boxes = await client.mailboxes()
                if any(b.path == origin for b in boxes):
                    target = origin
            if target == ref.mailbox:
                raise BadRequest("The message is already there.")
            if marks is not None:
                await check_validity(client, ref, readonly=False)
                await _set_keywords(
                    client,
                    ref,
                    add=list(marks),
                    remove=[k for k in JUNK_KEYWORDS if k not in marks],
                )
            return await self._move_in(client, ref, target)

        try:
            new_id = await self.pool.run(lookup, credentials, op)
        finally:
            self.cache.drop(lookup, ref.id)
        self._forget_moved(lookup, ref.id)
        return new_id

    async def empty(self, lookup: str, credentials: CredentialsFn, path: str) -> int:
        """Delete everything in Trash or Junk for good; how many messages that was."""

        async def op(client: MailClient) -> int:
            boxes = await client.mailboxes()
            box = next((b for b in boxes if b.path == path), None)
            if box is None:
                raise NotFound("There is no such mailbox.")
            if box.role not in ("trash", "junk"):
                raise BadRequest("Only Trash and Junk can be emptied.")
            return await client.empty_mailbox(path)

        emptied = await self.pool.run(lookup, credentials, op)
        self.cache.drop(lookup)
        for book in (self.origins, self.junk_marks):
            kept = book.get(lookup, {})
            for key in [k for k in kept if decode_message_id(k).mailbox == path]:
                kept.pop(key, None)
        return emptied

    async def delete(self, lookup: str, credentials: CredentialsFn, ref: MessageRef) -> str | None:
        """Move to Trash, or delete for good when in Trash or there is none; the id in Trash
        when the server said (None when deleted for good)."""

        async def op(client: MailClient) -> str | None:
            boxes = await client.mailboxes()
            trash = next((b.path for b in boxes if b.role == "trash"), None)
            await check_validity(client, ref, readonly=False)
            try:
                if trash is None or trash == ref.mailbox:
                    await client.expunge_uid(ref.mailbox, ref.uid)
                    return None
                moved = await client.move(ref.mailbox, ref.uid, trash)
            except ImapNoError:
                raise NotFound("That message does not exist (any more).") from None
            if moved is None:
                return None
            state = await client.select(trash, readonly=True)
            return message_id(trash, state.uidvalidity, moved)

        try:
            new_id = await self.pool.run(lookup, credentials, op)
        finally:
            self.cache.drop(lookup, ref.id)
        self._remember(lookup, new_id, ref.mailbox)
        return new_id

    # -- lifecycle ---------------------------------------------------------------------

    def forget(self, lookup: str, message: str | None = None) -> None:
        """Drop cached renderings: one message's, or all of a session's."""
        self.cache.drop(lookup, message)

    def wipe(self, lookup: str) -> None:
        """A session ends: its renderings and the origins of what it moved."""
        self.cache.drop(lookup)
        self.origins.pop(lookup, None)
        self.junk_marks.pop(lookup, None)

    async def start(self) -> None:
        await self.workers.start()

    async def close(self) -> None:
        await self.workers.close()
