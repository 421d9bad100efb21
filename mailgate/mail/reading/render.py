"""The CPU side of reading a message: limits, MIME parsing, sanitizing, previews.

Everything here is a pure function of picklable arguments, so it can run in a worker
process (see `workers.py`); nothing here does I/O or logging. Whatever a message holds,
the result is a `Rendered`: the full view, or the degraded one when a limit is hit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import getaddresses
from typing import Protocol

from mailgate.mail.mime_read import (
    AttachmentInfo,
    MessageView,
    ParsedAddress,
    header_text,
    parse_message,
    preview,
)
from mailgate.mail.sanitize import html_document, sanitize_html, text_links, text_to_html

from .limits import ReadingLimits, bound_html, scan_mime, strip_bom

__all__ = [
    "CID_IMAGE_TYPES",
    "CID_MAX_BYTES",
    "NOTICE_TOO_COMPLEX",
    "Rendered",
    "SignedImageUrls",
    "StructureShape",
    "TextPart",
    "cid_images",
    "degrade",
    "degraded_view",
    "render_document",
    "render_structured",
    "render_whole",
]

NOTICE_TOO_COMPLEX = (
    "This message is too complex to display safely. Its headers are shown as far as they "
    "could be read; download the original to inspect it."
)

CID_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
CID_MAX_BYTES = 2 * 1024 * 1024


def cid_images(view: MessageView) -> list[AttachmentInfo]:
    """The message's own images that `cid:` references in its HTML may show."""
    return [
        a
        for a in view.attachments
        if a.content_id and a.content_type in CID_IMAGE_TYPES and a.size <= CID_MAX_BYTES
    ]


@dataclass
class Rendered:
    """A message as the API shows it. ``view.html`` is the (bounded) unsanitized HTML,
    kept for documents that need per-request URLs (inline images, proxied images)."""

    view: MessageView
    preview: str = ""
    remote_blocked: int = 0
    # The frame's document when it needs nothing per request (no inline images to fetch).
    document: str | None = None
    # Set when the view is degraded: the limit hit, from a fixed vocabulary (for logs).
    limit: str | None = None
    # How often something was refused or reduced while rendering, by kind (for one log line).
    refusals: dict[str, int] = field(default_factory=dict)
    # The plain-text body's links, as written → cleaned href (sanitize.text_links); only
    # for messages without HTML, whose text is what the reader shows.
    text_links: dict[str, str] = field(default_factory=dict)

    @property
    def degraded(self) -> bool:
        return self.limit is not None


@dataclass(frozen=True)
class TextPart:
    """A text body part of a large message, fetched on its own: its MIME header and body."""

    kind: str  # "text/plain" or "text/html"
    mime: bytes
    body: bytes


@dataclass(frozen=True)
class StructureShape:
    """A large message's nesting depth and leaf count, from BODYSTRUCTURE."""

    depth: int
    parts: int


_FIELD = re.compile(rb"^([!-9;-~]{1,76})[ \t]*:(.*)$", re.S)
_SHOWN = ("subject", "from", "to", "cc", "reply-to", "date", "message-id")
_DEGRADED_HEADER_BYTES = 2 * 1024 * 1024
_DEGRADED_VALUE = 8 * 1024
_DEGRADED_FIELDS = 500
_DEGRADED_ADDRESSES = 100


def _header_block(raw: bytes) -> bytes:
    raw = strip_bom(raw)[:_DEGRADED_HEADER_BYTES]
    end = re.search(rb"\r?\n\r?\n", raw)
    return raw[: end.start()] if end else raw


def _addresses(value: str) -> list[ParsedAddress]:
    out: list[ParsedAddress] = []
    try:
        pairs = getaddresses([value])
    except Exception:
        return out
    for name, address in pairs[:_DEGRADED_ADDRESSES]:
        if address:
            out.append({"name": header_text(name), "email": header_text(address)})
    return out


def degraded_view(raw_header: bytes, limit: str) -> Rendered:
    """The headers that can be read cheaply: the first fields of the header block, each
    value cut short, decoded without the MIME parser."""
    values: dict[str, str] = {}
    fields = 0
    name: str | None = None
    for line in _header_block(raw_header).split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if name is not None and len(values[name]) < _DEGRADED_VALUE:
                values[name] += " " + line.strip().decode("utf-8", "replace")
            continue
        fields += 1
        if fields > _DEGRADED_FIELDS:
            break
        found = _FIELD.match(line)
        name = None
        if found is not None:
            key = found.group(1).decode("ascii").lower()
            if key in _SHOWN and key not in values:
                name = key
                values[key] = found.group(2).strip().decode("utf-8", "replace")
    short = {k: v[:_DEGRADED_VALUE] for k, v in values.items()}
    view = MessageView(
        subject=header_text(short.get("subject")),
        from_=_addresses(short.get("from", "")),
        to=_addresses(short.get("to", "")),
        cc=_addresses(short.get("cc", "")),
        reply_to=_addresses(short.get("reply-to", "")),
        message_id_header=header_text(short.get("message-id")) or None,
    )
    if "date" in short:
        from mailgate.mail.mime_read import parse_message as _parse_headers

        # A lone Date field is cheap to parse properly (timezone handling included).
        view.date = _parse_headers(b"Date: " + short["date"].encode() + b"\r\n\r\n").date
    return degrade(view, limit)


def degrade(view: MessageView, limit: str) -> Rendered:
    """The degraded view of a message whose headers were already read."""
    shown = replace(view, text=NOTICE_TOO_COMPLEX, html=None, attachments=[])
    return Rendered(
        view=shown,
        document=html_document(text_to_html(NOTICE_TOO_COMPLEX), title=view.subject),
        limit=limit,
        refusals={f"limit_{limit}": 1},
    )


def _finish(view: MessageView, limits: ReadingLimits) -> Rendered:
    refusals: dict[str, int] = {}
    document: str | None = None
    remote_blocked = 0
    links: dict[str, str] = {}
    if view.html is not None:
        bounded = bound_html(view.html, limits)
        if bounded.flattened:
            refusals["html_flattened"] = bounded.flattened
        if bounded.cut:
            refusals["html_cut"] = 1
        view.html = bounded.html
        cleaned = sanitize_html(view.html, cid_urls={})
        remote_blocked = cleaned.remote_blocked
        if remote_blocked:
            refusals["remote_blocked"] = remote_blocked
        if not cid_images(view):
            document = html_document(cleaned.body, title=view.subject)
    else:
        document = html_document(text_to_html(view.text or ""), title=view.subject)
        links = text_links(view.text or "")
    return Rendered(
        view=view,
        preview=preview(view.text) if view.text else "",
        remote_blocked=remote_blocked,
        document=document,
        refusals=refusals,
        text_links=links,
    )


def render_whole(raw: bytes, limits: ReadingLimits) -> Rendered:
    """A whole message: scanned, then parsed and sanitized, or the degraded view."""
    shape = scan_mime(raw, limits)
    if shape.exceeded is not None:
        return degraded_view(raw, shape.exceeded)
    return _finish(parse_message(raw), limits)


def render_structured(
    header: bytes,
    texts: list[TextPart],
    attachments: list[AttachmentInfo],
    structure: StructureShape,
    limits: ReadingLimits,
) -> Rendered:
    """A large message read from its structure: the header block and its text parts."""
    block = strip_bom(header).rstrip(b"\r\n") + b"\r\n\r\n"
    if structure.depth > limits.mime_depth:
        return degraded_view(block, "mime_depth")
    if structure.parts > limits.parts:
        return degraded_view(block, "parts")
    shape = scan_mime(block, limits)
    if shape.exceeded is not None:
        return degraded_view(block, shape.exceeded)
    view = parse_message(block)
    view.text = view.html = None
    view.attachments = list(attachments)
    for part in texts:
        raw = part.mime.rstrip(b"\r\n") + b"\r\n\r\n" + part.body
        shape = scan_mime(raw, limits)
        if shape.exceeded is not None:
            return degraded_view(block, shape.exceeded)
        part_view = parse_message(raw)
        if part.kind == "text/plain":
            view.text = part_view.text
        else:
            view.html = part_view.html
    return _finish(view, limits)


def render_document(
    html: str,
    subject: str,
    cid_urls: Mapping[str, str],
    remote_image_url: Callable[[str], str | None] | None,
) -> str:
    """The frame document for HTML that needs per-request URLs (``html`` is bounded)."""
    cleaned = sanitize_html(html, cid_urls=cid_urls, remote_image_url=remote_image_url)
    return html_document(cleaned.body, title=subject)


class _Signer(Protocol):
    def url_for(self, lookup: str, message: str, target: str) -> str | None: ...


@dataclass(frozen=True)
class SignedImageUrls:
    """The sanitizer's `remote_image_url` for the image proxy, picklable (a worker calls
    it inside nh3's attribute filter): a signed same-origin URL per remote image."""

    signer: _Signer
    lookup: str
    message: str

    def __call__(self, target: str) -> str | None:
        return self.signer.url_for(self.lookup, self.message, target)
