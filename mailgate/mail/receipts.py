"""Read receipts (message disposition notifications, RFC 8098): never sent automatically.

A message with `Disposition-Notification-To` only makes the reader ask. When the user
chooses to send one, `answer_receipt` builds the MDN with the `email` package
(multipart/report; report-type=disposition-notification: a human-readable part and a
message/disposition-notification part, no copy of the original), submits it over the
account's SMTP server and sets the `$MDNSent` keyword (RFC 3503) on the message, so it is
not asked again; declining sets the keyword and sends nothing.
"""

from __future__ import annotations

import io
import logging
import secrets
import ssl
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime, getaddresses
from typing import Literal

from mailgate.config import Config
from mailgate.errors import BadRequest, NotFound
from mailgate.logs import log_event
from mailgate.mail.compose import (
    MAX_SUBJECT_CHARS,
    POLICY,
    BuiltMessage,
    kept_threading,
    parse_recipient,
)
from mailgate.mail.ids import MessageRef
from mailgate.mail.imap.client import MailClient
from mailgate.mail.mime_read import header_text
from mailgate.mail.outbox import OutboxSession, Sender, submit_built
from mailgate.mail.pool import ImapPool
from mailgate.mail.reader import MDN_SENT, check_validity
from mailgate.mail.upstreams import UpstreamDirectory

__all__ = ["ReceiptAction", "answer_receipt", "build_mdn"]

ReceiptAction = Literal["send", "ignore"]

_SUBJECT_PREFIX = "Read: "
_HUMAN_TEXT = (
    "This is a read receipt for the message you sent{date} with the subject:\n\n"
    "    {subject}\n\n"
    "It was displayed on the recipient's screen. This is no guarantee that the message "
    "has been read or understood.\n"
)


def _one_line(value: str, limit: int) -> str:
    return " ".join(value.split())[:limit]


def build_mdn(
    *,
    sender: Address,
    to: Address,
    original_message_id: str | None,
    original_subject: str,
    original_date: str | None,
    now: datetime | None = None,
) -> BuiltMessage:
    """The MDN for a message displayed by `sender`, addressed to `to` (RFC 8098 §3)."""
    subject = _one_line(original_subject, MAX_SUBJECT_CHARS - len(_SUBJECT_PREFIX))
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = _SUBJECT_PREFIX + subject
    msg["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    message_id = f"<{secrets.token_hex(16)}@{sender.domain}>"
    msg["Message-ID"] = message_id
    if original_message_id:
        msg["In-Reply-To"] = original_message_id
        msg["References"] = original_message_id
    msg["MIME-Version"] = "1.0"
    when = f" on {_one_line(original_date, 100)}" if original_date else ""
    msg.set_content(
        _HUMAN_TEXT.format(date=when, subject=subject or "(no subject)"),
        subtype="plain",
        charset="utf-8",
    )
    msg.make_mixed()
    # The machine-readable part: ASCII fields, 7bit (RFC 8098 §3.1); nothing of the
    # reading software is named (Reporting-UA is optional).
    fields = [f"Final-Recipient: rfc822; {sender.addr_spec}"]
    if original_message_id:
        fields.append(f"Original-Message-ID: {original_message_id}")
    fields.append("Disposition: manual-action/MDN-sent-manually; displayed")
    report = EmailMessage(policy=POLICY)
    report["Content-Type"] = "message/disposition-notification"
    report["Content-Transfer-Encoding"] = "7bit"
    report.set_payload("\r\n".join(fields) + "\r\n")
    msg.attach(report)
    msg.set_type("multipart/report")
    msg.set_param("report-type", "disposition-notification")
    for part in msg.iter_parts():
        del part["MIME-Version"]
    msg.set_boundary("=_" + secrets.token_hex(16))
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=POLICY).flatten(msg)
    data = buffer.getvalue()
    return BuiltMessage(
        message_id=message_id,
        envelope_from=sender.addr_spec,
        recipients=[to.addr_spec],
        segments={True: [data], False: [data]},
        attachments=[],
    )


def _receipt_address(headers: object) -> Address:
    """The first address of Disposition-Notification-To, checked as any recipient is."""
    raw = getattr(headers, "get_all", lambda _name: None)("Disposition-Notification-To")
    pairs = getaddresses([header_text(str(v)) for v in raw or []])
    address = next((a for _, a in pairs if a), None)
    if address is None:
        raise BadRequest("This message does not ask for a read receipt.")
    try:
        return parse_recipient({"email": address, "name": ""}, "receipt")
    except BadRequest:
        raise BadRequest("The address this message asks a read receipt for is not valid.") from None


async def answer_receipt(
    ref: MessageRef,
    action: ReceiptAction,
    *,
    session: OutboxSession,
    pool: ImapPool,
    config: Config,
    upstreams: UpstreamDirectory,
    ssl_context: ssl.SSLContext,
    sender: Sender,
) -> None:
    """Send (or decline) the read receipt a message asks for, once; then flag it $MDNSent.

    400 when it asks for none or was answered already, 404/409 for a gone or stale id.
    """

    async def read(client: MailClient) -> tuple[frozenset[str], bytes | None]:
        await check_validity(client, ref, readonly=False)
        found = await client.summaries(ref.mailbox, [ref.uid], uidvalidity=ref.uidvalidity)
        if not found:
            return frozenset(), None
        header = await client.fetch_sections(ref.mailbox, ref.uid, ["HEADER"])
        return found[0].flags, header.get("HEADER")

    flags, header = await pool.run(session.lookup, session.credentials, read)
    if header is None:
        raise NotFound("That message does not exist (any more).")
    if MDN_SENT.lower() in {f.lower() for f in flags}:
        raise BadRequest("The read receipt of this message was answered already.")
    headers = BytesHeaderParser(policy=compat32).parsebytes(header)
    to = _receipt_address(headers)
    if action == "send":
        me = parse_recipient({"email": sender.email or session.email, "name": sender.name}, "from")
        # Only a valid msg-id goes into the MDN's headers (kept_threading checks it).
        original_id, _ = kept_threading(header_text(str(headers.get("Message-ID") or "")), [])
        built = build_mdn(
            sender=me,
            to=to,
            original_message_id=original_id,
            original_subject=header_text(str(headers.get("Subject") or "")),
            original_date=header_text(str(headers.get("Date") or "")) or None,
        )
        await submit_built(
            built, session=session, config=config, upstreams=upstreams, ssl_context=ssl_context
        )

    async def flag(client: MailClient) -> None:
        await client.add_flags(ref.mailbox, ref.uid, [MDN_SENT], uidvalidity=ref.uidvalidity)

    try:
        await pool.run(session.lookup, session.credentials, flag)
    except Exception as exc:
        if action == "ignore":
            raise
        # The receipt went out: a missing keyword is not worth an error (or a resend).
        log_event("mdn_flag_failed", logging.WARNING, kind=type(exc).__name__)
    log_event("read_receipt", action=action)
