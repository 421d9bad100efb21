"""One message: its summary and full view, and the bodies of PATCH and move
(API.md "Messages")."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from .base import RequestBody, ResponseBody

__all__ = [
    "Address",
    "Attachment",
    "BulkActed",
    "BulkAction",
    "BulkResult",
    "FlagsUpdate",
    "HeaderField",
    "HeaderList",
    "Message",
    "Move",
    "Moved",
    "Summary",
    "TextLink",
]

Count = Annotated[int, Meta(ge=0)]


class Address(ResponseBody):
    name: str
    email: str


class Summary(ResponseBody):
    """A message in a list (mailgate/mail/reader.py summary_json)."""

    id: str
    from_: list[Address] = msgspec.field(name="from")
    to: list[Address]
    subject: str
    date: str | None
    seen: bool
    flagged: bool
    answered: bool
    # The $Forwarded keyword: set when mailgate sent a forward of it (`forward_of`).
    forwarded: bool
    size: Count | None
    has_attachments: bool
    # An HTML body, judged from BODYSTRUCTURE as opening the message chooses it: a client
    # may ask for body.html at once, beside the message itself.
    has_html: bool
    preview: str


class Attachment(ResponseBody):
    part: str
    filename: str
    content_type: str
    size: Count | None
    inline: bool
    url: str


class TextLink(ResponseBody):
    """A link in the plain-text body: the URL as written there and the href to use."""

    text: str
    href: str


class Message(Summary):
    """GET /api/messages/{id}: the summary plus headers, text and attachments."""

    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    # The addresses of the Delivered-To fields: which of the user's addresses received it.
    delivered_to: list[Address]
    # Where the sender asks a read receipt to go (Disposition-Notification-To), and whether
    # it was answered already (sent or declined: the $MDNSent keyword).
    receipt_to: list[Address]
    receipt_handled: bool
    message_id_header: str | None
    in_reply_to: str | None
    references: list[str] | str | None
    text: str | None
    # The links in `text` (messages without HTML only), cleaned as links in HTML mail are.
    text_links: list[TextLink]
    html_url: str
    remote_content_blocked: Count
    remote_allowed: bool
    attachments: list[Attachment]
    # True when the message hit a structural limit or its rendering deadline: the view
    # holds the headers that could be read and `notice` says why; /raw still has it all.
    degraded: bool
    notice: str | None


class FlagsUpdate(RequestBody):
    """PATCH /api/messages/{id}: a flag left out is left as it is."""

    seen: bool | UnsetType = UNSET
    flagged: bool | UnsetType = UNSET

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return f"The field '{field}' must be true or false."

    def changes(self) -> tuple[bool | None, bool | None]:
        """(seen, flagged); None leaves that flag as it is."""
        seen = None if isinstance(self.seen, UnsetType) else self.seen
        flagged = None if isinstance(self.flagged, UnsetType) else self.flagged
        return seen, flagged


class Move(RequestBody):
    """POST /api/messages/{id}/move: the target mailbox id."""

    mailbox: str

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return "The field 'mailbox' must be a mailbox id."


class Moved(ResponseBody):
    id: str | None  # null when the server did not say (no UIDPLUS)


class HeaderField(ResponseBody):
    name: str
    value: str


class HeaderList(ResponseBody):
    """GET /api/messages/{id}/headers: every header field in order, values unfolded and
    decoded; ``truncated`` when the block was over the reading limits (only its start)."""

    headers: list[HeaderField]
    truncated: bool


MessageId = Annotated[str, Meta(min_length=1, max_length=2048)]


class BulkAction(RequestBody):
    """POST /api/messages/actions: one action on up to 200 messages (the list's selection)."""

    action: Literal[
        "read", "unread", "flag", "unflag", "move", "delete", "junk", "archive", "restore"
    ]
    ids: Annotated[list[MessageId], Meta(min_length=1, max_length=200)]
    mailbox: str | UnsetType = UNSET  # the target of "move", a mailbox id

    @classmethod
    def invalid_message(cls, field: str) -> str:
        if field == "mailbox":
            return "The field 'mailbox' must be a mailbox id."
        if field == "ids":
            return "The field 'ids' must list between 1 and 200 message ids."
        return (
            "The field 'action' must be read, unread, flag, unflag, move, delete, junk or archive."
        )


class BulkResult(ResponseBody):
    """What became of one message: its new id (move, delete to Trash, junk, archive, restore;
    null when the
    server did not say or it was deleted for good), or the error code that stopped it."""

    id: str
    new_id: str | None
    error: str | None


class BulkActed(ResponseBody):
    results: list[BulkResult]
