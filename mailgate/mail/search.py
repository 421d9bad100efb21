"""Search with filters, in one mailbox or across the account: the criteria a user's
filters become on the wire (RFC 3501 SEARCH keys), and which mailboxes "all folders" means.

Nothing here is logged or kept: the terms go to the mail server and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .ids import mailbox_id
from .imap.client import Mailbox, MailClient
from .imap.protocol import LiteralArg
from .reader import summary_json

__all__ = [
    "MAX_SEARCHED",
    "SKIPPED_ROLES",
    "SearchFilter",
    "imap_criteria",
    "search",
    "searched_paths",
]

# "All folders" leaves out what the user threw away or the server judged spam, as the
# big webmails do; either can still be searched on its own.
SKIPPED_ROLES = frozenset({"junk", "trash"})
# At most this many mailboxes in one search across the account (one round trip each).
MAX_SEARCHED = 200
_NOT_SELECTABLE = frozenset({"\\noselect", "\\nonexistent"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What the user asked for; every part narrows the search (AND). ``until`` is
    inclusive, as a date picker means it."""

    text: str | None = None  # anywhere: sender, recipients, subject, body
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None
    body: str | None = None
    since: date | None = None
    until: date | None = None
    unread: bool = False
    flagged: bool = False
    attachment: bool = False

    def is_empty(self) -> bool:
        return self == SearchFilter()


def _day(value: date) -> str:
    # IMAP's date-text, English month names whatever the locale (RFC 3501 §9).
    return f"{value.day}-{_MONTHS[value.month - 1]}-{value.year}"


def _term(value: str) -> LiteralArg:
    return LiteralArg(value.encode("utf-8"))


def imap_criteria(f: SearchFilter) -> list[object]:
    """The SEARCH keys for ``f`` (to send with CHARSET UTF-8); ["ALL"] for no filter."""
    keys: list[object] = []
    if f.text:
        term = _term(f.text)
        keys += ["OR OR OR OR FROM", term, "TO", term, "CC", term, "SUBJECT", term, "BODY", term]
    if f.sender:
        keys += ["FROM", _term(f.sender)]
    if f.recipient:
        term = _term(f.recipient)
        keys += ["OR OR TO", term, "CC", term, "BCC", term]
    if f.subject:
        keys += ["SUBJECT", _term(f.subject)]
    if f.body:
        keys += ["BODY", _term(f.body)]
    if f.since:
        keys += ["SINCE", _day(f.since)]
    if f.until:
        keys += ["BEFORE", _day(f.until + timedelta(days=1))]
    if f.unread:
        keys.append("UNSEEN")
    if f.flagged:
        keys.append("FLAGGED")
    if f.attachment:
        # Mail with attachments is sent as multipart/mixed; SEARCH has no key for the
        # parts themselves.
        keys += ["HEADER", "Content-Type", _term("multipart/mixed")]
    return keys or ["ALL"]


def searched_paths(boxes: list[Mailbox]) -> list[str]:
    """The mailboxes "all folders" searches: every selectable one but Junk and Trash,
    the inbox first (its hits win ties), at most MAX_SEARCHED."""
    chosen = [
        b
        for b in boxes
        if b.path
        and b.role not in SKIPPED_ROLES
        and not {f.lower() for f in b.flags} & _NOT_SELECTABLE
    ]
    chosen.sort(key=lambda b: b.role != "inbox")
    return [b.path for b in chosen[:MAX_SEARCHED]]


async def search(
    client: MailClient, wanted: SearchFilter, mailbox: str | None, *, offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """(total, one page of summaries, each with the id of its mailbox), newest first, in
    ``mailbox`` or, without one, in every mailbox searched_paths chooses."""
    paths = [mailbox] if mailbox is not None else searched_paths(await client.mailboxes())
    page = await client.search_mailboxes(paths, imap_criteria(wanted), offset=offset, limit=limit)
    hits = [
        {**summary_json(hit.path, hit.uidvalidity, hit.summary), "mailbox": mailbox_id(hit.path)}
        for hit in page.hits
    ]
    return page.total, hits
