"""Conversations: a mailbox's threads with the user's replies from Sent
(API.md "Conversations")."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from .base import RequestBody, ResponseBody
from .messages import Address, Summary

__all__ = [
    "ConversationActed",
    "ConversationAction",
    "ConversationItem",
    "ConversationMessage",
    "ConversationPage",
    "ConversationView",
]

Count = Annotated[int, Meta(ge=0)]


class ConversationItem(ResponseBody):
    """One conversation in a list (mailgate/mail/conversations.py)."""

    id: str
    subject: str
    participants: list[Address]
    count: Count
    unread: Count
    date: str | None  # the newest message's
    has_attachments: bool


class ConversationPage(ResponseBody):
    total: Count
    offset: Count
    conversations: list[ConversationItem]


class ConversationMessage(Summary):
    """A message of a conversation: its summary and the id of the mailbox it is in."""

    mailbox: str


class ConversationView(ConversationItem):
    """GET /api/conversations/{id}: the item and its messages, oldest first."""

    messages: list[ConversationMessage]


class ConversationAction(RequestBody):
    """POST /api/conversations/{id}/actions."""

    action: Literal["read", "unread", "flag", "unflag", "move", "delete"]
    mailbox: str | UnsetType = UNSET  # the target of "move", a mailbox id

    @classmethod
    def invalid_message(cls, field: str) -> str:
        if field == "mailbox":
            return "The field 'mailbox' must be a mailbox id."
        return "The field 'action' must be read, unread, flag, unflag, move or delete."


class ConversationActed(ResponseBody):
    count: Count  # messages the action reached
