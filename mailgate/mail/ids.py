"""Opaque, URL-safe ids for mailboxes and messages.

A message id embeds the mailbox, its UIDVALIDITY and the UID, so a request can always
tell when the server has renumbered the mailbox (409 stale_message) instead of acting
on whichever message now holds that UID.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from mailgate.errors import NotFound

__all__ = [
    "MessageRef",
    "conversation_id",
    "decode_conversation_id",
    "decode_mailbox_id",
    "decode_message_id",
    "mailbox_id",
    "message_id",
]

_MAX_ID = 2048


def _enc(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


def _dec(value: str) -> str:
    if not value or len(value) > _MAX_ID:
        raise NotFound()
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise NotFound() from None


def mailbox_id(path: str) -> str:
    return _enc(path)


def decode_mailbox_id(value: str) -> str:
    path = _dec(value)
    if not path or any(c in path for c in "\x00\r\n"):
        raise NotFound()
    return path


@dataclass(frozen=True)
class MessageRef:
    mailbox: str
    uidvalidity: int
    uid: int

    @property
    def id(self) -> str:
        return message_id(self.mailbox, self.uidvalidity, self.uid)


def message_id(mailbox: str, uidvalidity: int, uid: int) -> str:
    return _enc(f"{uidvalidity}:{uid}:{mailbox}")


def decode_message_id(value: str) -> MessageRef:
    text = _dec(value)
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise NotFound()
    validity, uid, mailbox = int(parts[0]), int(parts[1]), parts[2]
    if (
        not (0 < uid < 2**32 and 0 < validity < 2**32)
        or not mailbox
        or any(c in mailbox for c in "\x00\r\n")
    ):
        raise NotFound()
    return MessageRef(mailbox, validity, uid)


def conversation_id(mailbox: str, uidvalidity: int, uid: int) -> str:
    """A conversation of ``mailbox``, named by one of its messages there (its first by
    UID); a ``t:`` prefix keeps it apart from that message's own id."""
    return _enc(f"t:{uidvalidity}:{uid}:{mailbox}")


def decode_conversation_id(value: str) -> MessageRef:
    """The message that names a conversation (mailbox, UIDVALIDITY, UID); NotFound if the
    value is not a conversation id."""
    text = _dec(value)
    if not text.startswith("t:"):
        raise NotFound()
    return decode_message_id(_enc(text[2:]))
