"""Reading mail from IMAP: the API's summaries, and what opening a message fetches.

Small messages (up to `INLINE_MAX`) arrive whole in the first FETCH; larger ones are read
from BODYSTRUCTURE plus their text parts, so a message with a big attachment never has to
be loaded to be shown. Parsing happens elsewhere (`mailgate.mail.reading`), off the event
loop.
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
from mailgate.mail.mime_read import AttachmentInfo, safe_filename
from mailgate.mail.reading.render import StructureShape, TextPart

__all__ = [
    "FORWARDED",
    "INLINE_MAX",
    "MDN_SENT",
    "FetchedForReading",
    "check_validity",
    "fetch_for_reading",
    "flag_json",
    "iso_date",
    "summary_json",
]

INLINE_MAX = 256 * 1024
_TEXT_MAX = 4 * 1024 * 1024


def iso_date(value: datetime | str | None) -> str | None:
    """An IMAP date (parsed or as text) in ISO 8601, or None."""
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


# The keyword set on a message once it was forwarded (RFC 5788's registry, as clients use it).
FORWARDED = "$Forwarded"

# The keyword set once a read receipt was sent or declined (RFC 3503): never asked again.
MDN_SENT = "$MDNSent"


def flag_json(flags: Any) -> dict[str, bool]:
    lowered = {f.lower() for f in flags}
    return {
        "seen": "\\seen" in lowered,
        "flagged": "\\flagged" in lowered,
        "answered": "\\answered" in lowered,
        "forwarded": FORWARDED.lower() in lowered,
    }


def summary_json(mailbox: str, uidvalidity: int, s: Any) -> dict[str, Any]:
    env = s.envelope
    return {
        "id": message_id(mailbox, uidvalidity, s.uid),
        "from": [_addr(a) for a in env.from_],
        "to": [_addr(a) for a in env.to],
        "subject": env.subject or "",
        "date": iso_date(env.date) or iso_date(s.internaldate),
        **flag_json(s.flags),
        "size": s.size,
        "has_attachments": bool(s.has_attachments),
        "has_html": bool(s.has_html),
        "preview": s.preview or "",
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


def _shape(root: BodyPart) -> StructureShape:
    """How deep and wide BODYSTRUCTURE says the message is (as far as it was parsed)."""
    leaves = depth = 0
    stack = [(root, 0)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        if node.is_multipart:
            stack.extend((child, level + 1) for child in node.children)
        else:
            leaves += 1
            if node.body is not None:
                stack.append((node.body, level + 1))
    return StructureShape(depth, leaves)


def _decoded_size(part: BodyPart) -> int:
    if (part.encoding or "").lower() == "base64":
        return part.size * 3 // 4
    return part.size


@dataclass
class FetchedForReading:
    """What reading a message needs from the server, before any parsing: the whole
    message when small, else its header block, its first text parts and the attachment
    list BODYSTRUCTURE gives."""

    ref: MessageRef
    flags: frozenset[str]
    size: int
    internaldate: Any
    structure: BodyPart | None
    header: bytes
    raw: bytes | None = None
    texts: list[TextPart] = field(default_factory=list)
    attachments: list[AttachmentInfo] = field(default_factory=list)
    shape: StructureShape = field(default_factory=lambda: StructureShape(0, 0))

    @property
    def whole(self) -> bool:
        return self.raw is not None


async def _texts_and_attachments(
    client: MailClient, ref: MessageRef, root: BodyPart
) -> tuple[list[TextPart], list[AttachmentInfo]]:
    attachments: list[AttachmentInfo] = []
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
        attachments.append(
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
    texts: list[TextPart] = []
    if chosen:
        sections = []
        for leaf in chosen.values():
            number = leaf.part or "1"
            sections += [f"{number}.MIME" if leaf.part else "HEADER", number]
        data = await client.fetch_sections(ref.mailbox, ref.uid, sections)
        for kind, leaf in chosen.items():
            number = leaf.part or "1"
            mime = data.get(f"{number}.MIME" if leaf.part else "HEADER", b"")
            texts.append(TextPart(kind, mime, data.get(number, b"")))
    return texts, attachments


async def fetch_for_reading(
    client: MailClient, ref: MessageRef, *, peek: bool
) -> FetchedForReading:
    """Fetch a message for reading (setting \\Seen unless ``peek``); no parsing here."""
    await check_validity(client, ref, readonly=peek)
    fetched = await client.fetch_message(ref.mailbox, ref.uid, peek=peek, max_inline=INLINE_MAX)
    if fetched is None:
        raise NotFound("That message does not exist (any more).")
    found = FetchedForReading(
        ref,
        frozenset(fetched.flags),
        fetched.size,
        fetched.internaldate,
        fetched.bodystructure,
        fetched.header,
        raw=fetched.raw,
    )
    if fetched.raw is None:
        found.shape = _shape(fetched.bodystructure)
        found.texts, found.attachments = await _texts_and_attachments(
            client, ref, fetched.bodystructure
        )
    return found
