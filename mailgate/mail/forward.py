"""Forwarding as an attachment: a message, as the server stores it, into the vault.

`attach_message` streams the upstream raw message (`ReadingService.download_raw`) into
the session's encrypted uploads, bounded like an upload; the UI attaches that upload to
a new message like any other. Bare LF line ends become CRLF on the way
(`crlf_line_ends`: some servers give a message back as it was stored). A message that
is then 7-bit clean (`SevenBitLines`) is kept as `message/rfc822` and goes out verbatim
as such (mailgate/mail/compose.py). One that is not (8-bit bodies, bare CRs, overlong
lines) cannot be a 7bit message/rfc822 part,
and base64 is not allowed for that type (RFC 2046 §5.2.1), so it is kept as an
`application/octet-stream` `.eml` file instead (streamed a second time).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from mailgate.errors import PayloadTooLarge, UpstreamUnavailable
from mailgate.logs import log_event
from mailgate.mail.compose import (
    FORWARDED_MESSAGE_TYPE,
    AttachmentNotSevenBit,
    crlf_line_ends,
    seven_bit_only,
)
from mailgate.mail.drafts import UploadLimits
from mailgate.mail.ids import MessageRef
from mailgate.mail.mime_read import safe_filename
from mailgate.mail.pool import Credentials
from mailgate.mail.reading.service import Download, DownloadCut, ReadingService
from mailgate.vault.interface import BlobInfo, Vault

__all__ = ["FALLBACK_TYPE", "attach_message"]

FALLBACK_TYPE = "application/octet-stream"


async def attach_message(
    reading: ReadingService,
    vault: Vault,
    *,
    lookup: str,
    credentials: Callable[[], Credentials],
    upload_key: bytes,
    ref: MessageRef,
    limits: UploadLimits,
) -> BlobInfo:
    """The message at `ref`, whole, as a new upload named after its subject.

    404/409 as for opening the message; 413 past the upload limits; 502 when the mail
    server fails meanwhile.
    """
    opened = await reading.open(lookup, credentials, ref, peek=True)
    filename = safe_filename(f"{opened.view.subject.strip() or 'message'}.eml", "message/rfc822")
    count, used = await vault.usage(lookup)
    if count >= limits.session_max_files:
        raise PayloadTooLarge("This session holds as many files as it may.")
    room = min(limits.file_max_bytes, limits.session_max_bytes - used)
    if room <= 0:
        raise PayloadTooLarge("This session's upload space is used up.")

    async def keep_as(content_type: str) -> BlobInfo:
        async def keep(download: Download, chunks: AsyncIterator[bytes]) -> BlobInfo:
            if content_type == FORWARDED_MESSAGE_TYPE:
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
            return await reading.download_raw(lookup, credentials, ref, keep)
        except DownloadCut:
            raise UpstreamUnavailable() from None

    try:
        info = await keep_as(FORWARDED_MESSAGE_TYPE)
    except AttachmentNotSevenBit:
        info = await keep_as(FALLBACK_TYPE)
    log_event("message_attached", verbatim=info.content_type == FORWARDED_MESSAGE_TYPE)
    return info
