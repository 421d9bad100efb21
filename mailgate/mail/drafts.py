"""Taking a saved draft up again: its compose fields, its attachments back in the vault.

`resume_draft` opens the message through the reading service (parsed in a worker under
the reading limits, like any message) and copies each attachment's decoded bytes into
the session's encrypted uploads, streamed, under the same limits as an upload. The
handler (mailgate/api/messages.py) answers the fields and the new upload ids; the UI
treats them as its own uploads from then on (it deletes them when the form closes).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from mailgate.errors import BadRequest, PayloadTooLarge, UpstreamUnavailable
from mailgate.logs import log_event
from mailgate.mail.compose import (
    FORWARDED_MESSAGE_TYPE,
    AttachmentNotSevenBit,
    crlf_line_ends,
    kept_msg_id,
    kept_threading,
    seven_bit_only,
)
from mailgate.mail.ids import MessageRef
from mailgate.mail.mime_read import ParsedAddress, safe_filename
from mailgate.mail.pool import Credentials
from mailgate.mail.reading.service import Download, DownloadCut, ReadingService
from mailgate.vault.interface import BlobInfo, Vault

__all__ = ["ResumedDraft", "UploadLimits", "resume_draft"]

_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,63}/[a-z0-9!#$&^_.+-]{1,63}")


@dataclass(frozen=True)
class UploadLimits:
    """The upload limits of mailgate/api/uploads.py, which copied attachments obey too."""

    file_max_bytes: int
    session_max_bytes: int
    session_max_files: int
    expires_at: float | None = None


@dataclass(frozen=True)
class ResumedDraft:
    id: str
    from_: list[dict[str, str]] = field(default_factory=list)
    to: list[dict[str, str]] = field(default_factory=list)
    cc: list[dict[str, str]] = field(default_factory=list)
    bcc: list[dict[str, str]] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    # Whether it has an HTML body (the client continues it in HTML, from body.html).
    html: bool = False
    attachments: list[BlobInfo] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    # A draft of a forward: the Message-ID of the message it forwards.
    forwarded: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.from_,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "attachments": [a.as_json() for a in self.attachments],
            "thread": {
                "in_reply_to": self.in_reply_to,
                "references": self.references,
                "forwarded": self.forwarded,
            },
        }


def _addresses(values: list[ParsedAddress]) -> list[dict[str, str]]:
    return [{"name": a["name"], "email": a["email"]} for a in values if a["email"]]


def _content_type(value: str) -> str:
    value = (value or "").split(";")[0].strip().lower()
    return value if _CONTENT_TYPE.fullmatch(value) else "application/octet-stream"


async def resume_draft(
    reading: ReadingService,
    vault: Vault,
    *,
    lookup: str,
    credentials: Callable[[], Credentials],
    upload_key: bytes,
    ref: MessageRef,
    limits: UploadLimits,
) -> ResumedDraft:
    """The draft's compose fields, its attachments copied into the vault (all or none).

    404/409 as for opening the message; 400 when it is too complex to be edited (the
    reader shows it degraded); 413 when its attachments do not fit the session's upload
    limits; 502 when the mail server fails while they are copied. A message with an HTML
    body says so (`html`): the client takes that body from body.html."""
    opened = await reading.open(lookup, credentials, ref, peek=True)
    if opened.rendered.degraded:
        raise BadRequest("This message is too complex to be edited here.")
    view = opened.view
    files = [a for a in view.attachments if not a.inline]
    count, used = await vault.usage(lookup)
    if count + len(files) > limits.session_max_files:
        raise PayloadTooLarge("This session holds as many files as it may.")
    copied: list[BlobInfo] = []
    try:
        for attachment in files:
            room = min(limits.file_max_bytes, limits.session_max_bytes - used)
            if room <= 0:
                raise PayloadTooLarge("This session's upload space is used up.")

            content_type = _content_type(attachment.content_type)
            filename = safe_filename(attachment.filename, content_type)

            async def keep(
                download: Download,
                chunks: AsyncIterator[bytes],
                room: int = room,
                filename: str = filename,
                content_type: str = content_type,
            ) -> BlobInfo:
                if content_type == FORWARDED_MESSAGE_TYPE:
                    # Sent verbatim again only when 7-bit clean (mailgate/mail/forward.py).
                    chunks = seven_bit_only(crlf_line_ends(chunks))
                return await vault.put(
                    lookup,
                    upload_key,
                    filename,
                    content_type,
                    chunks,
                    max_bytes=room,
                    expires_at=limits.expires_at,
                )

            try:
                try:
                    info = await reading.download_part(
                        lookup, credentials, ref, attachment.part, keep
                    )
                except AttachmentNotSevenBit:
                    content_type = "application/octet-stream"
                    info = await reading.download_part(
                        lookup,
                        credentials,
                        ref,
                        attachment.part,
                        functools.partial(keep, content_type=content_type),
                    )
            except DownloadCut:
                raise UpstreamUnavailable() from None
            copied.append(info)
            used += info.size
    except BaseException:
        for info in copied:
            try:
                await vault.delete(lookup, info.id)
            except Exception as exc:  # the session wipe removes what is left
                log_event("draft_copy_cleanup_failed", logging.WARNING, kind=type(exc).__name__)
        raise
    log_event("draft_resumed", attachments=len(copied))
    text = (view.text or "").replace("\r\n", "\n")
    # What POST /api/send and /api/drafts take back as `thread`.
    in_reply_to, references = kept_threading(view.in_reply_to, view.references)
    return ResumedDraft(
        id=ref.id,
        from_=_addresses(view.from_),
        to=_addresses(view.to),
        cc=_addresses(view.cc),
        bcc=_addresses(view.bcc),
        subject=view.subject,
        text=text,
        html=view.html is not None,
        attachments=copied,
        in_reply_to=in_reply_to,
        references=references,
        forwarded=kept_msg_id(view.forward_of),
    )
