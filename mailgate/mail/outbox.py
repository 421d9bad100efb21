"""Sending and saving drafts: build, submit, store.

The HTTP handlers in mailgate/api/send.py decode the request (its type,
mailgate/api/models/compose.py, makes the ComposeRequest) and call
`send_message` / `save_draft`. Uploads are never deleted here, not even after a
successful send: the UI deletes them when it closes the form, so a retry after
any failure (or a "send" that the user repeats as "save draft") still finds them,
and the session wipe removes whatever is left.
"""

from __future__ import annotations

import functools
import logging
import secrets
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any, Protocol

from mailgate.config import Config
from mailgate.errors import AuthRequired, BadRequest, NotFound, StaleMessage
from mailgate.logs import log_event
from mailgate.mail.compose import (
    AttachmentNotSevenBit,
    AttachmentSizeMismatch,
    AttachmentSource,
    BuiltMessage,
    Draft,
    Priority,
    build_message,
    kept_msg_id,
    parse_recipient,
    reply_threading,
)
from mailgate.mail.ids import MessageRef, mailbox_id, message_id
from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.errors import ImapError, ImapNoError, ImapStale, ImapUnsupported
from mailgate.mail.pool import Credentials, ImapPool
from mailgate.mail.reader import FORWARDED, check_validity
from mailgate.mail.sanitize import clean_outgoing_html
from mailgate.mail.smtp import submit
from mailgate.mail.upstreams import UpstreamDirectory
from mailgate.vault.interface import Vault

__all__ = [
    "ComposeRequest",
    "DraftResult",
    "OutboxSession",
    "SendResult",
    "Sender",
    "save_draft",
    "send_message",
    "submit_built",
]


class UploadKeys(Protocol):
    @property
    def upload_key(self) -> bytes: ...


class OutboxSession(Protocol):
    """What sending needs of a live session. mailgate/session/manager.py's `Session`
    has it; mail/ does not import session/ (the layers only point down)."""

    @property
    def lookup(self) -> str: ...

    @property
    def keys(self) -> UploadKeys: ...

    @property
    def email(self) -> str: ...

    def credentials(self) -> Credentials: ...


# A draft may have no recipient yet, but build_message() insists on one. This
# stand-in goes only into the Bcc header, and the draft is stored from the
# serialization without Bcc, so it never appears anywhere (.invalid: RFC 2606).
_NOBODY = Address(addr_spec="nobody@draft.invalid")


@dataclass(frozen=True)
class ComposeRequest:
    """A validated compose body (addresses parsed, ids decoded, uploads not yet looked up)."""

    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str | None = None
    attachments: list[str] = field(default_factory=list)
    in_reply_to: MessageRef | None = None
    # The message this one forwards: it gets the $Forwarded keyword once sent.
    forward_of: MessageRef | None = None
    save_sent: bool = True
    replaces: MessageRef | None = None
    # In-Reply-To and References as a saved draft holds them (not with in_reply_to).
    thread: tuple[str | None, list[str]] | None = None
    # The Message-ID of the message a draft taken up again forwards (its FORWARD_OF_HEADER,
    # answered as thread.forwarded): saved with the draft again, and once sent, the message
    # with that Message-ID gets $Forwarded.
    forwarded: str | None = None
    request_receipt: bool = False
    priority: Priority = "normal"
    # Upload ids of the images the HTML shows as <img src="cid:UPLOAD-ID">.
    inline: list[str] = field(default_factory=list)

    @property
    def recipient_count(self) -> int:
        return len(self.to) + len(self.cc) + len(self.bcc)


@dataclass(frozen=True)
class Sender:
    """Who a message is from: the login's address by default, or an identity the user
    saved (its address, name, Reply-To and whether it gets a Bcc of what it sends)."""

    name: str = ""
    email: str | None = None  # None: the login's own address
    reply_to: str | None = None
    bcc_self: bool = False


@dataclass(frozen=True)
class SendResult:
    message_id_header: str
    saved_to: str | None
    warning: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id_header": self.message_id_header,
            "saved_to": self.saved_to,
        }
        if self.warning:
            body["warning"] = self.warning
        return body


@dataclass(frozen=True)
class DraftResult:
    id: str | None
    warning: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id}
        if self.warning:
            body["warning"] = self.warning
        return body


# -- building -------------------------------------------------------------------------------


def _reader(vault: Vault, session: OutboxSession, upload_id: str) -> AsyncIterator[bytes]:
    return vault.read(session.lookup, session.keys.upload_key, upload_id)


async def _attachments(
    vault: Vault, session: OutboxSession, ids: list[str]
) -> list[AttachmentSource]:
    sources = []
    for upload_id in ids:
        info = await vault.info(session.lookup, session.keys.upload_key, upload_id)
        if info is None:
            raise BadRequest("The field 'attachments' names an upload that does not exist.")
        sources.append(
            AttachmentSource(
                filename=info.filename,
                content_type=info.content_type,
                size=info.size,
                # Bound now: each source reads its own upload, not the loop's last.
                open=functools.partial(_reader, vault, session, upload_id),
            )
        )
    return sources


def _header(headers: Any, name: str) -> str:
    value = headers.get(name)
    return " ".join(str(value).split()) if value is not None else ""


async def _parent_threading(
    pool: ImapPool, session: OutboxSession, parent: MessageRef
) -> tuple[str | None, list[str]]:
    """In-Reply-To and References for a reply to `parent` (404/409 when it is gone)."""

    async def op(client: MailClient) -> bytes | None:
        await check_validity(client, parent, readonly=True)
        sections = await client.fetch_sections(parent.mailbox, parent.uid, ["HEADER"])
        return sections.get("HEADER")

    header = await pool.run(session.lookup, session.credentials, op)
    if header is None:
        raise NotFound("The message being replied to does not exist (any more).")
    headers = BytesHeaderParser(policy=compat32).parsebytes(header)
    return reply_threading(_header(headers, "Message-ID"), _header(headers, "References"))


async def _forwarded_message_id(
    pool: ImapPool, session: OutboxSession, original: MessageRef
) -> str | None:
    """The Message-ID of the message a draft forwards, to keep in the draft; None when it
    is gone or renumbered, or has none (the draft is saved all the same)."""

    async def op(client: MailClient) -> bytes | None:
        await check_validity(client, original, readonly=True)
        sections = await client.fetch_sections(original.mailbox, original.uid, ["HEADER"])
        return sections.get("HEADER")

    try:
        header = await pool.run(session.lookup, session.credentials, op)
    except (NotFound, StaleMessage):
        return None
    if header is None:
        return None
    return kept_msg_id(_header(BytesHeaderParser(policy=compat32).parsebytes(header), "Message-ID"))


async def _build(
    request: ComposeRequest,
    session: OutboxSession,
    vault: Vault,
    pool: ImapPool,
    *,
    placeholder_recipient: bool = False,
    sender: Sender = Sender(),
    bcc_self: bool = False,
) -> BuiltMessage:
    attachments = await _attachments(vault, session, request.attachments)
    inline_sources = await _attachments(vault, session, request.inline)
    if any(not s.content_type.lower().startswith("image/") for s in inline_sources):
        raise BadRequest("The field 'inline' may name images only.")
    in_reply_to: str | None = None
    references: list[str] = []
    if request.in_reply_to is not None:
        in_reply_to, references = await _parent_threading(pool, session, request.in_reply_to)
    elif request.thread is not None:
        # Kept as the draft held them; build_message drops whatever is not a msg-id.
        in_reply_to, references = request.thread[0], list(request.thread[1])
    from_address = parse_recipient(
        {"email": sender.email or session.email, "name": sender.name}, "from"
    )
    cids = {i: f"img.{secrets.token_hex(12)}@{from_address.domain}" for i in request.inline}
    bcc = list(request.bcc)
    if placeholder_recipient and request.recipient_count == 0:
        bcc = [_NOBODY]
    if bcc_self and sender.bcc_self:
        bcc.append(Address(addr_spec=from_address.addr_spec))
    # A draft keeps what it forwards (by Message-ID: a mailgate id would not outlive a
    # renumbering); a message to be sent never carries that header.
    forward_of: str | None = None
    if placeholder_recipient:
        if request.forward_of is not None:
            forward_of = await _forwarded_message_id(pool, session, request.forward_of)
        else:
            forward_of = kept_msg_id(request.forwarded)
    draft = Draft(
        from_address=from_address,
        reply_to=None
        if not sender.reply_to
        else parse_recipient({"email": sender.reply_to, "name": ""}, "reply_to"),
        to=list(request.to),
        cc=list(request.cc),
        bcc=bcc,
        subject=request.subject,
        text=request.text,
        # Sanitized here, whatever the client sent: only the editor's own markup goes out,
        # and an image only as one of the message's own parts.
        html=None if request.html is None else clean_outgoing_html(request.html, cids),
        inline_images=[(cids[i], s) for i, s in zip(request.inline, inline_sources, strict=True)],
        attachments=attachments,
        in_reply_to=in_reply_to,
        references=references,
        request_receipt=request.request_receipt,
        priority=request.priority,
        forward_of=forward_of,
    )
    return build_message(draft)


async def _role_path(client: MailClient, role: str) -> str | None:
    return next((b.path for b in await client.mailboxes() if b.role == role), None)


# -- sending --------------------------------------------------------------------------------


async def _mark_answered(
    pool: ImapPool, session: OutboxSession, parent: MessageRef, flag: str = "\\Answered"
) -> bool:
    """Flag the replied-to (\\Answered) or forwarded ($Forwarded) message; best effort."""

    async def op(client: MailClient) -> None:
        await client.add_flags(parent.mailbox, parent.uid, [flag], uidvalidity=parent.uidvalidity)

    try:
        await pool.run(session.lookup, session.credentials, op)
    except Exception as exc:
        # Best effort: the reply went out; a missing flag is not worth an error.
        log_event("answered_flag_failed", logging.WARNING, kind=type(exc).__name__)
        return False
    return True


# Mailboxes searched for a message known by its Message-ID only (INBOX first): a bound on
# the SELECTs one send may cost.
_SEARCH_MAILBOXES = 25
_SKIP_SEARCH = ("drafts", "trash", "junk")


async def _flag_by_message_id(
    pool: ImapPool, session: OutboxSession, message_id_header: str, flag: str
) -> None:
    """A message sent from a draft taken up again knows the message it answers or forwards
    by Message-ID only: flag the messages with exactly that Message-ID in the first mailbox
    that has any, INBOX first, then the others (not Drafts, Trash or Junk; at most
    _SEARCH_MAILBOXES). Best effort, never raises."""
    wanted = kept_msg_id(message_id_header)
    if wanted is None:
        return

    async def flag_in(client: MailClient, path: str) -> bool:
        try:
            found = await client.uids_with_message_id(path, wanted)
        except ImapNoError:
            return False  # not selectable, or gone meanwhile
        done = False
        for uid in found[:10]:
            header = (await client.fetch_sections(path, uid, ["HEADER"])).get("HEADER")
            parsed = BytesHeaderParser(policy=compat32).parsebytes(header or b"")
            if _header(parsed, "Message-ID") == wanted:  # SEARCH is a substring match
                await client.add_flags(path, uid, [flag])
                done = True
        return done

    async def op(client: MailClient) -> None:
        if await flag_in(client, "INBOX"):
            return
        others = [
            b.path
            for b in await client.mailboxes()
            if b.path.upper() != "INBOX"
            and b.role not in _SKIP_SEARCH
            and not {f.lower() for f in b.flags} & {"\\noselect", "\\nonexistent"}
        ]
        for path in others[: _SEARCH_MAILBOXES - 1]:
            if await flag_in(client, path):
                return

    try:
        await pool.run(session.lookup, session.credentials, op)
    except Exception as exc:
        log_event("answered_flag_failed", logging.WARNING, kind=type(exc).__name__)


async def _save_sent(
    pool: ImapPool, session: OutboxSession, built: BuiltMessage
) -> tuple[str | None, bool]:
    """APPEND to the Sent mailbox: (mailbox id or None, whether the APPEND failed)."""

    async def op(client: MailClient) -> str | None:
        sent = await _role_path(client, "sent")
        if sent is None:
            return None
        # The copy keeps the Bcc header so the sender can see whom they Bcc'd. It is
        # streamed (generated again from the vault), never held whole.
        await client.append_stream(
            sent, built.length(True), built.chunks(include_bcc=True), flags=["\\Seen"]
        )
        return sent

    try:
        path = await pool.run(session.lookup, session.credentials, op)
    except Exception as exc:
        # The message went out: any failure now is a warning, or the user would resend.
        log_event("sent_copy_failed", logging.WARNING, kind=type(exc).__name__)
        return None, True
    return (mailbox_id(path) if path is not None else None), False


async def submit_built(
    built: BuiltMessage,
    *,
    session: OutboxSession,
    config: Config,
    upstreams: UpstreamDirectory,
    ssl_context: ssl.SSLContext,
) -> None:
    """Submit a built message over the account's SMTP server with the session's login."""
    credentials = session.credentials()
    upstream = upstreams.for_address(credentials.username)
    if upstream is None:  # the map changed under a live session: its server is gone
        raise AuthRequired("The mail server no longer accepts this session's login.")
    try:
        await submit(
            built,
            envelope_from=built.envelope_from,
            recipients=built.recipients,
            host=upstream.smtp.host,
            port=upstream.smtp.port,
            security=upstream.smtp.security,
            ssl_context=ssl_context,
            username=credentials.username,
            password=credentials.password,
            access_token=credentials.access_token,
            timeout=config.smtp.timeout_s,
        )
    finally:
        del credentials


async def send_message(
    request: ComposeRequest,
    *,
    session: OutboxSession,
    vault: Vault,
    pool: ImapPool,
    config: Config,
    upstreams: UpstreamDirectory,
    ssl_context: ssl.SSLContext,
    sender: Sender = Sender(),
) -> SendResult:
    """Build, submit over SMTP, then (best effort) store in Sent and flag the parent.

    Once the SMTP server accepted the message nothing here raises: a failed
    Sent copy becomes `warning: sent_but_not_saved`, never a retry or a resend.
    """
    built = await _build(request, session, vault, pool, sender=sender, bcc_self=True)
    if request.replaces is not None:
        await _check_in_drafts(pool, session, request.replaces)
    try:
        await submit_built(
            built, session=session, config=config, upstreams=upstreams, ssl_context=ssl_context
        )
    except AttachmentSizeMismatch:
        # The upload changed under us (deleted meanwhile); the server got no final dot.
        raise BadRequest("An attachment was removed while the message was being sent.") from None
    except AttachmentNotSevenBit:
        # Only a checked message is kept as message/rfc822; the server got no final dot.
        raise BadRequest("An attached message cannot be sent as it is.") from None
    log_event(
        "message_sent",
        recipients=len(built.recipients),
        attachments=len(request.attachments),
        reply=request.in_reply_to is not None,
    )
    saved_to, failed = None, False
    if request.save_sent:
        saved_to, failed = await _save_sent(pool, session, built)
    if request.in_reply_to is not None:
        await _mark_answered(pool, session, request.in_reply_to)
    elif request.thread is not None and request.thread[0]:
        await _flag_by_message_id(pool, session, request.thread[0], "\\Answered")
    if request.forward_of is not None:
        await _mark_answered(pool, session, request.forward_of, FORWARDED)
    elif request.forwarded:
        await _flag_by_message_id(pool, session, request.forwarded, FORWARDED)
    warning = "sent_but_not_saved" if failed else None
    if request.replaces is not None and not await _remove_sent_draft(
        pool, session, request.replaces
    ):
        warning = warning or "draft_not_removed"
    return SendResult(message_id_header=built.message_id, saved_to=saved_to, warning=warning)


# -- drafts ---------------------------------------------------------------------------------


async def _drop_old_draft(client: MailClient, old: MessageRef) -> bool:
    """Remove the replaced draft (only its UID); False when it could not be removed."""
    try:
        await client.select(old.mailbox, uidvalidity=old.uidvalidity)
    except ImapStale:
        return False  # renumbered: that UID may now be another message
    try:
        await client.expunge_uid(old.mailbox, old.uid)
    except ImapUnsupported:
        # No UIDPLUS: a bare EXPUNGE could remove other messages; flag it only.
        await client.add_flags(old.mailbox, old.uid, ["\\Deleted"], uidvalidity=old.uidvalidity)
    return True


async def _check_in_drafts(pool: ImapPool, session: OutboxSession, draft: MessageRef) -> None:
    """400 unless `draft` names a message of the Drafts mailbox (checked before sending)."""

    async def op(client: MailClient) -> str | None:
        return await _role_path(client, "drafts")

    if await pool.run(session.lookup, session.credentials, op) != draft.mailbox:
        raise BadRequest("The field 'replaces' must name a message in the Drafts mailbox.")


async def _remove_sent_draft(pool: ImapPool, session: OutboxSession, draft: MessageRef) -> bool:
    """After a send: remove the draft it was written as. Best effort, never raises (the
    message went out); False when the draft could not be removed."""

    async def op(client: MailClient) -> bool:
        return await _drop_old_draft(client, draft)

    try:
        return await pool.run(session.lookup, session.credentials, op)
    except Exception as exc:
        log_event("sent_draft_not_removed", logging.WARNING, kind=type(exc).__name__)
        return False


async def save_draft(
    request: ComposeRequest,
    *,
    session: OutboxSession,
    vault: Vault,
    pool: ImapPool,
    sender: Sender = Sender(),
) -> DraftResult:
    """APPEND the draft to the Drafts mailbox; then remove the draft it replaces.

    The id is None when the server does not report the new UID (no UIDPLUS).
    """
    built = await _build(request, session, vault, pool, placeholder_recipient=True, sender=sender)
    with_bcc = request.recipient_count > 0  # else Bcc holds only the placeholder
    old = request.replaces

    async def op(client: MailClient) -> DraftResult:
        drafts = await _role_path(client, "drafts")
        if drafts is None:
            raise NotFound("This account has no Drafts mailbox.")
        if old is not None and old.mailbox != drafts:
            raise BadRequest("The field 'replaces' must name a message in the Drafts mailbox.")
        uid = await client.append_stream(
            drafts,
            built.length(with_bcc),
            built.chunks(include_bcc=with_bcc),
            flags=["\\Draft", "\\Seen"],
        )
        # From here on nothing may raise: the pool would retry the whole operation
        # and save the draft twice.
        new_id = None
        try:
            if uid is not None:
                state = await client.select(drafts, readonly=True)
                new_id = message_id(drafts, state.uidvalidity, uid)
        except ImapError:
            pass
        warning = None
        if old is not None:
            try:
                removed = await _drop_old_draft(client, old)
            except (ImapError, ValueError):
                removed = False
            if not removed:
                warning = "old_draft_not_removed"
        return DraftResult(id=new_id, warning=warning)

    result = await pool.run(session.lookup, session.credentials, op)
    log_event("draft_saved", attachments=len(request.attachments), replaced=old is not None)
    return result
