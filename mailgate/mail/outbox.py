"""Sending and saving drafts: validate the compose body, build, submit, store.

The HTTP handlers in mailgate/api/send.py only read the request and call
`send_message` / `save_draft`. Uploads are never deleted here, not even after a
successful send: the UI deletes them when it closes the form, so a retry after
any failure (or a "send" that the user repeats as "save draft") still finds them,
and the session wipe removes whatever is left.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any, Protocol

from mailgate.config import Config
from mailgate.errors import BadRequest, NotFound
from mailgate.logs import log_event
from mailgate.mail.compose import (
    MAX_SUBJECT_CHARS,
    AttachmentSizeMismatch,
    AttachmentSource,
    BuiltMessage,
    Draft,
    build_message,
    parse_recipient,
    reply_threading,
)
from mailgate.mail.ids import MessageRef, decode_message_id, mailbox_id, message_id
from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.errors import ImapError, ImapStale, ImapUnsupported
from mailgate.mail.pool import Credentials, ImapPool
from mailgate.mail.reader import check_validity
from mailgate.mail.smtp import submit
from mailgate.vault.interface import Vault

__all__ = [
    "DRAFT_FIELDS",
    "MAX_ATTACHMENTS",
    "MAX_BODY_BYTES",
    "SEND_FIELDS",
    "ComposeRequest",
    "DraftResult",
    "OutboxSession",
    "SendResult",
    "parse_compose",
    "save_draft",
    "send_message",
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


MAX_ATTACHMENTS = 50
MAX_BODY_BYTES = 1024 * 1024
_MAX_UPLOAD_ID = 200
SEND_FIELDS = frozenset(
    {"to", "cc", "bcc", "subject", "text", "html", "attachments", "in_reply_to", "save_sent"}
)
DRAFT_FIELDS = SEND_FIELDS | {"replaces"}
_ADDRESS_KEYS = frozenset({"name", "email"})
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
    save_sent: bool = True
    replaces: MessageRef | None = None

    @property
    def recipient_count(self) -> int:
        return len(self.to) + len(self.cc) + len(self.bcc)


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


# -- validation -----------------------------------------------------------------------------


def _addresses(data: dict[str, Any], name: str) -> list[Address]:
    value = data.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"The field '{name}' must be a list of addresses.")
    out = []
    for item in value:
        if isinstance(item, dict) and not set(item) <= _ADDRESS_KEYS:
            raise BadRequest(f"An address in '{name}' has a field this endpoint does not take.")
        out.append(parse_recipient(item, name))
    return out


def _string(data: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if optional:
            return None
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"The field '{name}' must be a string.")
    return value


def _body_text(data: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = _string(data, name, optional=optional)
    if value is not None and len(value.encode("utf-8")) > MAX_BODY_BYTES:
        raise BadRequest(f"The field '{name}' is longer than 1 MiB.")
    return value


def _message_ref(data: dict[str, Any], name: str) -> MessageRef | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"The field '{name}' must be a message id.")
    return decode_message_id(value)  # 404 for an id that never was one


def _upload_ids(data: dict[str, Any]) -> list[str]:
    value = data.get("attachments", [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, str) and 0 < len(v) <= _MAX_UPLOAD_ID for v in value
    ):
        raise BadRequest("The field 'attachments' must be a list of upload ids.")
    if len(value) > MAX_ATTACHMENTS:
        raise BadRequest(f"The field 'attachments' may list at most {MAX_ATTACHMENTS} uploads.")
    if len(set(value)) != len(value):
        raise BadRequest("The field 'attachments' lists the same upload twice.")
    return list(value)


def _check_unicode(value: Any) -> None:
    """Refuse lone surrogates (valid JSON escapes, but no UTF-8 text: a 500 later)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("The body has text that is not valid Unicode.") from None
    elif isinstance(value, list):
        for item in value:
            _check_unicode(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key)
            _check_unicode(item)


def parse_compose(data: dict[str, Any], config: Config, *, draft: bool) -> ComposeRequest:
    """Validate a /api/send (draft=False) or /api/drafts body; BadRequest naming the field."""
    unknown = set(data) - (DRAFT_FIELDS if draft else SEND_FIELDS)
    if unknown:
        raise BadRequest("The body has a field this endpoint does not take.")
    _check_unicode(data)
    save_sent = data.get("save_sent", True)
    if not isinstance(save_sent, bool):
        raise BadRequest("The field 'save_sent' must be true or false.")
    subject = _string(data, "subject") or ""
    if len(subject) > MAX_SUBJECT_CHARS:
        raise BadRequest(f"The field 'subject' is longer than {MAX_SUBJECT_CHARS} characters.")
    request = ComposeRequest(
        to=_addresses(data, "to"),
        cc=_addresses(data, "cc"),
        bcc=_addresses(data, "bcc"),
        subject=subject,
        text=_body_text(data, "text") or "",
        html=_body_text(data, "html", optional=True),
        attachments=_upload_ids(data),
        in_reply_to=_message_ref(data, "in_reply_to"),
        save_sent=save_sent,
        replaces=_message_ref(data, "replaces") if draft else None,
    )
    if request.recipient_count > config.limits.recipients_max:
        raise BadRequest(f"The message may have at most {config.limits.recipients_max} recipients.")
    if not draft and request.recipient_count == 0:
        raise BadRequest("Add at least one recipient in 'to', 'cc' or 'bcc'.")
    return request


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
                # Default argument: each source reads its own upload, not the loop's last.
                open=lambda uid=upload_id: _reader(vault, session, uid),
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


async def _build(
    request: ComposeRequest,
    session: OutboxSession,
    vault: Vault,
    pool: ImapPool,
    *,
    placeholder_recipient: bool = False,
    from_name: str = "",
) -> BuiltMessage:
    attachments = await _attachments(vault, session, request.attachments)
    in_reply_to, references = None, []
    if request.in_reply_to is not None:
        in_reply_to, references = await _parent_threading(pool, session, request.in_reply_to)
    bcc = list(request.bcc)
    if placeholder_recipient and request.recipient_count == 0:
        bcc = [_NOBODY]
    draft = Draft(
        from_address=parse_recipient({"email": session.email, "name": from_name}, "from"),
        to=list(request.to),
        cc=list(request.cc),
        bcc=bcc,
        subject=request.subject,
        text=request.text,
        html=request.html,
        attachments=attachments,
        in_reply_to=in_reply_to,
        references=references,
    )
    return build_message(draft)


async def _role_path(client: MailClient, role: str) -> str | None:
    return next((b.path for b in await client.mailboxes() if b.role == role), None)


# -- sending --------------------------------------------------------------------------------


async def _mark_answered(pool: ImapPool, session: OutboxSession, parent: MessageRef) -> bool:
    async def op(client: MailClient) -> None:
        await client.add_flags(
            parent.mailbox, parent.uid, ["\\Answered"], uidvalidity=parent.uidvalidity
        )

    try:
        await pool.run(session.lookup, session.credentials, op)
    except Exception as exc:
        # Best effort: the reply went out; a missing flag is not worth an error.
        log_event("answered_flag_failed", logging.WARNING, kind=type(exc).__name__)
        return False
    return True


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


async def send_message(
    request: ComposeRequest,
    *,
    session: OutboxSession,
    vault: Vault,
    pool: ImapPool,
    config: Config,
    ssl_context: ssl.SSLContext,
    from_name: str = "",
) -> SendResult:
    """Build, submit over SMTP, then (best effort) store in Sent and flag the parent.

    Once the SMTP server accepted the message nothing here raises: a failed
    Sent copy becomes `warning: sent_but_not_saved`, never a retry or a resend.
    """
    built = await _build(request, session, vault, pool, from_name=from_name)
    smtp = config.smtp
    credentials = session.credentials()
    try:
        await submit(
            built,
            envelope_from=built.envelope_from,
            recipients=built.recipients,
            host=smtp.host,
            port=smtp.port,
            security=smtp.security,
            ssl_context=ssl_context,
            username=credentials.username,
            password=credentials.password,
            timeout=smtp.timeout_s,
        )
    except AttachmentSizeMismatch:
        # The upload changed under us (deleted meanwhile); the server got no final dot.
        raise BadRequest("An attachment was removed while the message was being sent.") from None
    finally:
        del credentials
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
    return SendResult(
        message_id_header=built.message_id,
        saved_to=saved_to,
        warning="sent_but_not_saved" if failed else None,
    )


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


async def save_draft(
    request: ComposeRequest,
    *,
    session: OutboxSession,
    vault: Vault,
    pool: ImapPool,
    from_name: str = "",
) -> DraftResult:
    """APPEND the draft to the Drafts mailbox; then remove the draft it replaces.

    The id is None when the server does not report the new UID (no UIDPLUS).
    """
    built = await _build(
        request, session, vault, pool, placeholder_recipient=True, from_name=from_name
    )
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
