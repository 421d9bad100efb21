"""Reading mail: the API's summaries and message views, built from IMAP data.

Small messages (up to `INLINE_MAX`) arrive whole in the first FETCH and are parsed with
the `email` package; larger ones are read from BODYSTRUCTURE plus their text parts, so a
message with a big attachment never has to be loaded to be shown.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailgate.errors import NotFound, StaleMessage
from mailgate.mail.ids import MessageRef, message_id
from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.errors import ImapNoError, ImapStale
from mailgate.mail.imap.parse import BodyPart
from mailgate.mail.mime_read import (
    AttachmentInfo,
    MessageView,
    parse_message,
    preview,
    safe_filename,
)

__all__ = ["INLINE_MAX", "OpenedMessage", "check_validity", "open_message", "summary_json"]

INLINE_MAX = 256 * 1024
_TEXT_MAX = 4 * 1024 * 1024


def _iso(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        return email.utils.parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _addr(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {"name": value.get("name") or "", "email": value.get("email") or ""}
    return {"name": getattr(value, "name", "") or "", "email": getattr(value, "email", "") or ""}


def _flags(flags: Any) -> dict[str, bool]:
    lowered = {f.lower() for f in flags}
    return {
        "seen": "\\seen" in lowered,
        "flagged": "\\flagged" in lowered,
        "answered": "\\answered" in lowered,
    }


def summary_json(mailbox: str, uidvalidity: int, s: Any) -> dict[str, Any]:
    env = s.envelope
    return {
        "id": message_id(mailbox, uidvalidity, s.uid),
        "from": [_addr(a) for a in env.from_],
        "to": [_addr(a) for a in env.to],
        "subject": env.subject or "",
        "date": _iso(env.date) or _iso(s.internaldate),
        **_flags(s.flags),
        "size": s.size,
        "has_attachments": bool(s.has_attachments),
        "preview": s.preview or "",
    }


@dataclass
class OpenedMessage:
    ref: MessageRef
    flags: frozenset[str]
    size: int
    internaldate: Any
    view: MessageView
    whole: bool  # True when `view` came from the whole message (small-message path)
    structure: BodyPart | None = None
    sanitized: dict[str, Any] = field(default_factory=dict)

    def as_json(self, base: str) -> dict[str, Any]:
        v = self.view
        attachments = [
            {
                "part": a.part,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "inline": a.inline,
                "url": f"{base}/parts/{a.part}",
            }
            for a in v.attachments
        ]
        return {
            "id": self.ref.id,
            "from": v.from_,
            "to": v.to,
            "cc": v.cc,
            "bcc": v.bcc,
            "reply_to": v.reply_to,
            "subject": v.subject,
            "date": v.date or _iso(self.internaldate),
            **_flags(self.flags),
            "size": self.size,
            "has_attachments": any(not a.inline for a in v.attachments),
            "preview": preview(v.text or "") if v.text else "",
            "message_id_header": v.message_id_header,
            "in_reply_to": v.in_reply_to,
            "references": v.references,
            "text": v.text,
            "has_html": v.html is not None,
            "html_url": f"{base}/body.html",
            "attachments": attachments,
        }


async def check_validity(client: MailClient, ref: MessageRef, *, readonly: bool) -> None:
    """Select the message's mailbox and refuse an id from an older UIDVALIDITY.

    A kept selection is trusted as it is: what follows is addressed by UID, and its reply
    brings any news along."""
    try:
        await client.select(
            ref.mailbox, readonly=readonly, uidvalidity=ref.uidvalidity, refresh=False
        )
    except ImapStale:
        raise StaleMessage() from None
    except ImapNoError:
        raise NotFound("There is no such mailbox.") from None


def _leaves(root: BodyPart) -> list[BodyPart]:
    out: list[BodyPart] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_multipart:
            stack.extend(reversed(node.children))
        else:
            out.append(node)  # message/rfc822 is one leaf: an attachment
    return out


def _decoded_size(part: BodyPart) -> int:
    if (part.encoding or "").lower() == "base64":
        return part.size * 3 // 4
    return part.size


async def _view_from_structure(
    client: MailClient, ref: MessageRef, header: bytes, root: BodyPart
) -> MessageView:
    view = parse_message(header.rstrip(b"\r\n") + b"\r\n\r\n")
    view.text = view.html = None
    view.attachments = []
    chosen: dict[str, BodyPart] = {}
    for leaf in _leaves(root):
        is_attachment = (leaf.disposition or "").lower() == "attachment"
        kind = leaf.content_type.lower()
        if (
            not is_attachment
            and kind in ("text/plain", "text/html")
            and kind not in chosen
            and leaf.size <= _TEXT_MAX
        ):
            chosen[kind] = leaf
            continue
        view.attachments.append(
            AttachmentInfo(
                part=leaf.part or "1",
                filename=safe_filename(leaf.filename, leaf.content_type.lower()),
                content_type=leaf.content_type.lower(),
                size=_decoded_size(leaf),
                inline=(leaf.disposition or "").lower() == "inline"
                or bool(leaf.id and not is_attachment),
                content_id=(leaf.id or "").strip("<>") or None,
            )
        )
    if chosen:
        sections = []
        for leaf in chosen.values():
            number = leaf.part or "1"
            sections += [f"{number}.MIME" if leaf.part else "HEADER", number]
        data = await client.fetch_sections(ref.mailbox, ref.uid, sections)
        for kind, leaf in chosen.items():
            number = leaf.part or "1"
            mime = data.get(f"{number}.MIME" if leaf.part else "HEADER", b"")
            body = data.get(number, b"")
            part_view = parse_message(mime.rstrip(b"\r\n") + b"\r\n\r\n" + body)
            if kind == "text/plain":
                view.text = part_view.text
            else:
                view.html = part_view.html
    return view


async def open_message(client: MailClient, ref: MessageRef, *, peek: bool) -> OpenedMessage:
    await check_validity(client, ref, readonly=peek)
    fetched = await client.fetch_message(ref.mailbox, ref.uid, peek=peek, max_inline=INLINE_MAX)
    if fetched is None:
        raise NotFound("That message does not exist (any more).")
    if fetched.raw is not None:
        view = parse_message(fetched.raw)
    else:
        view = await _view_from_structure(client, ref, fetched.header, fetched.bodystructure)
    return OpenedMessage(
        ref,
        frozenset(fetched.flags),
        fetched.size,
        fetched.internaldate,
        view,
        whole=fetched.raw is not None,
        structure=fetched.bodystructure,
    )
