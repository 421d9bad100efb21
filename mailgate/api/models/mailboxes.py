"""GET /api/mailboxes and a mailbox's page of messages (API.md "Mailboxes")."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from .base import RequestBody, ResponseBody
from .messages import Summary

__all__ = [
    "Emptied",
    "Mailbox",
    "MailboxCreate",
    "MailboxList",
    "MailboxUpdate",
    "MessagePage",
    "QuotaAnswer",
    "QuotaUsage",
    "SearchHit",
    "SearchPage",
    "Subscription",
]

FolderName = Annotated[str, Meta(min_length=1, max_length=200)]

Count = Annotated[int, Meta(ge=0)]


class Mailbox(ResponseBody):
    id: str
    name: str
    path: str
    role: Literal["inbox", "sent", "drafts", "trash", "junk", "archive", None]
    total: Count | None
    unread: Count | None
    subscribed: bool | None = None


class MailboxList(ResponseBody):
    mailboxes: list[Mailbox]


class MessagePage(ResponseBody):
    total: Count
    offset: Count
    messages: list[Summary]


class SearchHit(Summary):
    """A found message, with the id of the mailbox it is in."""

    mailbox: str


class SearchPage(ResponseBody):
    total: Count
    offset: Count
    messages: list[SearchHit]


class MailboxCreate(RequestBody):
    """POST /api/mailboxes: a new folder's own name, under ``parent`` (a mailbox id) or at
    the top; with ``role`` a special-use Junk or Archive folder where the server allows it."""

    name: FolderName
    parent: str | None = None
    role: Literal["junk", "archive", None] = None

    @classmethod
    def invalid_message(cls, field: str) -> str:
        if field == "name":
            return "The folder name must be 1 to 200 characters."
        if field == "role":
            return "The field 'role' must be junk, archive or null."
        return "The field 'parent' must be a mailbox id or null."


class MailboxUpdate(RequestBody):
    """PATCH /api/mailboxes/{id}: rename, and with ``parent`` move (null: the top level)."""

    name: FolderName
    parent: str | UnsetType | None = UNSET

    @classmethod
    def invalid_message(cls, field: str) -> str:
        if field == "name":
            return "The folder name must be 1 to 200 characters."
        return "The field 'parent' must be a mailbox id or null."


class Subscription(RequestBody):
    """PUT /api/mailboxes/{id}/subscription."""

    subscribed: bool

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return "The field 'subscribed' must be true or false."


class Emptied(ResponseBody):
    """POST /api/mailboxes/{id}/empty: how many messages were deleted for good."""

    deleted: Count


class QuotaUsage(ResponseBody):
    used: Count
    limit: Count


class QuotaAnswer(ResponseBody):
    """GET /api/quota: the INBOX quota root's storage (bytes) and message count, each null
    when the server sets no such limit or offers no QUOTA at all."""

    storage: QuotaUsage | None
    messages: QuotaUsage | None
