"""POST /api/send and POST /api/drafts: the compose body and the answers (API.md "Compose").

`to_request` turns a decoded body into the mail layer's ComposeRequest: addresses parsed,
message ids decoded. Uploads are looked up later, when the message is built."""

from __future__ import annotations

from email.headerregistry import Address
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from mailgate.errors import BadRequest
from mailgate.mail.compose import MAX_REFERENCES, MAX_SUBJECT_CHARS, parse_recipient
from mailgate.mail.ids import MessageRef, decode_message_id
from mailgate.mail.outbox import ComposeRequest

from .base import RequestBody, ResponseBody
from .messages import Address as AddressOut
from .uploads import Upload

__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_BODY_BYTES",
    "AddressIn",
    "Compose",
    "Draft",
    "DraftContent",
    "DraftSaved",
    "ReceiptAnswer",
    "ReceiptDone",
    "Sent",
    "Thread",
]

MAX_ATTACHMENTS = 50
MAX_BODY_BYTES = 1024 * 1024
MAX_INLINE = 20
_MAX_UPLOAD_ID = 200
_MAX_MSG_ID = 252

_MESSAGES = {
    "to": "The field 'to' must be a list of addresses.",
    "cc": "The field 'cc' must be a list of addresses.",
    "bcc": "The field 'bcc' must be a list of addresses.",
    "subject": f"The field 'subject' must be a string of at most {MAX_SUBJECT_CHARS} characters.",
    "text": "The field 'text' must be a string.",
    "html": "The field 'html' must be a string.",
    "attachments": (
        f"The field 'attachments' must be a list of at most {MAX_ATTACHMENTS} upload ids."
    ),
    "inline": (f"The field 'inline' must be a list of at most {MAX_INLINE} upload ids of images."),
    "in_reply_to": "The field 'in_reply_to' must be a message id.",
    "replaces": "The field 'replaces' must be a message id.",
    "forward_of": "The field 'forward_of' must be a message id.",
    "thread": (
        "The field 'thread' must be an object with 'in_reply_to' (a message-id or null), "
        f"'references' (at most {MAX_REFERENCES} message-ids) and 'forwarded' (a message-id "
        "or null)."
    ),
    "save_sent": "The field 'save_sent' must be true or false.",
    "identity": "The field 'identity' must be the id of an identity in the preferences.",
    "request_receipt": "The field 'request_receipt' must be true or false.",
    "priority": "The field 'priority' must be one of normal, high, low.",
}


class AddressIn(RequestBody):
    """A recipient as an object; a plain string "Name <a@b.example>" is the other form."""

    email: str
    name: str | None = None


Recipients = list[str | AddressIn] | None
UploadId = Annotated[str, Meta(min_length=1, max_length=_MAX_UPLOAD_ID)]
MsgId = Annotated[str, Meta(max_length=_MAX_MSG_ID)]


class Thread(RequestBody):
    """The In-Reply-To and References headers as a saved draft holds them (from
    GET /api/messages/{id}/draft): a reply taken up again keeps its thread, and a forward
    (``forwarded``) marks its original $Forwarded once sent."""

    in_reply_to: MsgId | None = None
    references: Annotated[list[MsgId], Meta(max_length=MAX_REFERENCES)] = []
    # A draft of a forward: the Message-ID of the message it forwards (marked $Forwarded
    # once this is sent).
    forwarded: MsgId | None = None

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return _MESSAGES["thread"]


class Compose(RequestBody):
    """POST /api/send. Every field may be left out or null (then empty)."""

    needs_recipient: ClassVar[bool] = True

    to: Recipients = None
    cc: Recipients = None
    bcc: Recipients = None
    subject: Annotated[str, Meta(max_length=MAX_SUBJECT_CHARS)] | None = None
    text: str | None = None
    html: str | None = None
    attachments: Annotated[list[UploadId], Meta(max_length=MAX_ATTACHMENTS)] | None = None
    # Images the HTML shows as <img src="cid:UPLOAD-ID"> (sent as multipart/related parts).
    inline: Annotated[list[UploadId], Meta(max_length=MAX_INLINE)] | None = None
    in_reply_to: str | None = None
    # The message this one forwards (a message id): it gets the $Forwarded keyword once sent.
    forward_of: str | None = None
    thread: Thread | None = None
    replaces: str | None = None
    save_sent: bool = True
    # The id of a saved identity (preferences) to send as; null: the login's address.
    identity: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")] | None = None
    # Ask the recipient's client for a read receipt (Disposition-Notification-To).
    request_receipt: bool = False
    priority: Literal["normal", "high", "low"] = "normal"

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return _MESSAGES.get(field, f"The field '{field}' is not valid.")

    def check(self) -> None:
        for name, value in (("text", self.text), ("html", self.html)):
            if value is not None and len(value.encode("utf-8")) > MAX_BODY_BYTES:
                raise BadRequest(f"The field '{name}' is longer than 1 MiB.", field=name)
        if self.attachments and len(set(self.attachments)) != len(self.attachments):
            raise BadRequest("The field 'attachments' lists the same upload twice.")
        if self.inline and len(set(self.inline)) != len(self.inline):
            raise BadRequest("The field 'inline' lists the same upload twice.")
        if self.inline and self.html is None:
            raise BadRequest("The field 'inline' needs 'html' that shows the images.")
        if self.thread is not None and self.in_reply_to is not None:
            raise BadRequest("Give either 'in_reply_to' or 'thread', not both.")

    def to_request(self, recipients_max: int) -> ComposeRequest:
        """The mail layer's request; BadRequest naming the field, 404 for a made-up id."""
        request = ComposeRequest(
            to=_addresses(self.to, "to"),
            cc=_addresses(self.cc, "cc"),
            bcc=_addresses(self.bcc, "bcc"),
            subject=self.subject or "",
            text=self.text or "",
            html=self.html,
            attachments=list(self.attachments or []),
            inline=list(self.inline or []),
            in_reply_to=_message_ref(self.in_reply_to),
            forward_of=_message_ref(self.forward_of),
            save_sent=self.save_sent,
            replaces=_message_ref(self.replaces),
            thread=None
            if self.thread is None
            else (self.thread.in_reply_to, list(self.thread.references)),
            forwarded=None if self.thread is None else self.thread.forwarded,
            request_receipt=self.request_receipt,
            priority=self.priority,
        )
        if request.recipient_count > recipients_max:
            raise BadRequest(f"The message may have at most {recipients_max} recipients.")
        if self.needs_recipient and request.recipient_count == 0:
            raise BadRequest("Add at least one recipient in 'to', 'cc' or 'bcc'.")
        return request


class Draft(Compose):
    """POST /api/drafts: a compose body that may lack recipients."""

    needs_recipient: ClassVar[bool] = False


def _addresses(values: Recipients, field: str) -> list[Address]:
    out: list[Address] = []
    for item in values or []:
        if isinstance(item, AddressIn):
            out.append(parse_recipient({"name": item.name or "", "email": item.email}, field))
        else:
            out.append(parse_recipient(item, field))
    return out


def _message_ref(value: str | None) -> MessageRef | None:
    return None if value is None else decode_message_id(value)  # 404 if never an id


class Sent(ResponseBody):
    message_id_header: str
    saved_to: str | None
    warning: str | UnsetType = UNSET  # sent, but not saved to Sent (or not marked answered)


class DraftSaved(ResponseBody):
    id: str | None
    warning: str | UnsetType = UNSET


class ThreadOut(ResponseBody):
    in_reply_to: str | None
    references: list[str]
    forwarded: str | None


class DraftContent(ResponseBody):
    """GET /api/messages/{id}/draft: a saved message as compose fields; its attachments
    copied into this session's uploads."""

    id: str
    # The From it was saved with: a client picks the identity with that address.
    from_: list[AddressOut] = msgspec.field(name="from")
    to: list[AddressOut]
    cc: list[AddressOut]
    bcc: list[AddressOut]
    subject: str
    text: str
    # It has an HTML body: GET /api/messages/{id}/body.html holds it, sanitized.
    html: bool
    attachments: list[Upload]
    thread: ThreadOut


class ReceiptAnswer(RequestBody):
    """POST /api/messages/{id}/receipt: send the read receipt the message asks for, or
    decline it; either way it is not asked again. `identity` names who sends it."""

    action: Literal["send", "ignore"]
    identity: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")] | None = None

    @classmethod
    def invalid_message(cls, field: str) -> str:
        if field == "identity":
            return _MESSAGES["identity"]
        return "The field 'action' must be send or ignore."


class ReceiptDone(ResponseBody):
    receipt: Literal["sent", "ignored"]
