"""GET /api/mailboxes and a mailbox's page of messages (API.md "Mailboxes")."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from .base import ResponseBody
from .messages import Summary

__all__ = ["Mailbox", "MailboxList", "MessagePage"]

Count = Annotated[int, Meta(ge=0)]


class Mailbox(ResponseBody):
    id: str
    name: str
    path: str
    role: Literal["inbox", "sent", "drafts", "trash", "junk", "archive", None]
    total: Count | None
    unread: Count | None


class MailboxList(ResponseBody):
    mailboxes: list[Mailbox]


class MessagePage(ResponseBody):
    total: Count
    offset: Count
    messages: list[Summary]
