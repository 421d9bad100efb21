"""A lean asyncio IMAP4rev1 client (``protocol``) and mailbox operations (``client``)."""

from __future__ import annotations

from .client import FetchedMessage, Mailbox, MailClient, Page, SelectState, Summary
from .errors import (
    ImapAuthError,
    ImapBadError,
    ImapError,
    ImapNoError,
    ImapProtocolError,
    ImapStale,
    ImapTlsError,
    ImapUnavailable,
    ImapUnsupported,
)
from .parse import BodyPart, Envelope
from .protocol import ImapConnection, Response, SectionStream, Untagged, quote

__all__ = [
    "BodyPart",
    "Envelope",
    "FetchedMessage",
    "ImapAuthError",
    "ImapBadError",
    "ImapConnection",
    "ImapError",
    "ImapNoError",
    "ImapProtocolError",
    "ImapStale",
    "ImapTlsError",
    "ImapUnavailable",
    "ImapUnsupported",
    "MailClient",
    "Mailbox",
    "Page",
    "Response",
    "SectionStream",
    "SelectState",
    "Summary",
    "Untagged",
    "quote",
]
