"""High-level mailbox operations on one logged-in :class:`ImapConnection`.

Every operation that addresses a message uses UID commands. User-supplied strings (mailbox
names, search terms) travel only as quoted strings or literals, and CR/LF/NUL are refused.
Operations on one mailbox SELECT it once and re-use the selection while it stays current.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from array import array
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, Literal, TypeVar, get_args

from ..decoding import decode_prefix
from ..mime_read import preview as one_line_preview
from ..threads import Head, base_subject, groups, parse_head, thread
from . import utf7
from .errors import ImapBadError, ImapNoError, ImapStale, ImapUnsupported
from .parse import (
    BodyPart,
    Envelope,
    has_attachments,
    has_html_body,
    parse_bodystructure,
    parse_envelope,
    parse_internaldate,
    parse_list,
    parse_status,
    text,
)
from .protocol import (
    DEFAULT_CHUNK,
    ImapConnection,
    LiteralArg,
    QuotedArg,
    Response,
    SectionStream,
    Untagged,
    fetch_items,
    numbers_of,
    quote,
    raise_for_status,
)

__all__ = [
    "SORTS",
    "ConversationPage",
    "FetchedMessage",
    "MailClient",
    "Mailbox",
    "Page",
    "Quota",
    "SearchHit",
    "SearchPage",
    "SelectState",
    "Sort",
    "Summary",
    "Threads",
    "uid_set",
]

Sort = Literal[
    "date_desc",
    "date_asc",
    "arrival_desc",
    "arrival_asc",
    "from_asc",
    "from_desc",
    "to_asc",
    "to_desc",
    "subject_asc",
    "subject_desc",
    "size_desc",
    "size_asc",
]
SORTS: tuple[Sort, ...] = get_args(Sort)  # the API offers them in this order
_SORT_NAMES = frozenset(SORTS)
# The SORT key (RFC 5256; DISPLAYFROM and DISPLAYTO are RFC 5957) of each order's first word.
_SORT_KEYS = {
    "date": "DATE",
    "arrival": "ARRIVAL",
    "from": "FROM",
    "to": "TO",
    "subject": "SUBJECT",
    "size": "SIZE",
}
# What to fetch to sort here on a server without SORT, per key.
_KEY_ITEMS = {
    "date": "INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE)]",
    "arrival": "INTERNALDATE",
    "from": "BODY.PEEK[HEADER.FIELDS (FROM)]",
    "to": "BODY.PEEK[HEADER.FIELDS (TO)]",
    "subject": "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
    "size": "RFC822.SIZE",
}
# Sender and subject keys are compared on this many characters (bounded memory).
_KEY_CHARS = 64

_R = TypeVar("_R")

_ROLE_FLAGS = {
    "\\sent": "sent",
    "\\drafts": "drafts",
    "\\trash": "trash",
    "\\junk": "junk",
    "\\archive": "archive",
}
_ROLE_NAMES = {
    "sent": "sent",
    "sent items": "sent",
    "sent messages": "sent",
    "sent mail": "sent",
    "drafts": "drafts",
    "draft": "drafts",
    "trash": "trash",
    "deleted items": "trash",
    "deleted messages": "trash",
    "junk": "junk",
    "junk e-mail": "junk",
    "junk email": "junk",
    "spam": "junk",
    "archive": "archive",
    "archives": "archive",
}
# The special-use folders mailgate makes on demand, by their name at the top level.
_ON_DEMAND_NAMES = {"Junk": "junk", "Archive": "archive"}
_SECTION = re.compile(r"(?:[1-9][0-9]*(?:\.[1-9][0-9]*)*)?(?:\.?(?:HEADER|TEXT|MIME))?", re.I)
_FLAG = re.compile(r"\\?[A-Za-z0-9$_.\-]{1,64}")
# Cached views (the sorted or searched UIDs of the selection) are arrays of 32-bit UIDs:
# 4 bytes a message, 0.4 MB per view of 100,000 messages. A session keeps at most this many
# bytes of them (the least recently used view goes first); a larger view is not kept.
VIEW_BUDGET = 2 * 1024 * 1024
# Sort keys kept per connection for servers without SORT (a dict entry, about 100 bytes a
# message). A mailbox with more messages than this is listed in arrival order there
# (docs/api.md).
_MAX_DATED = 200_000
# UIDs per FETCH when learning sent dates: bounded response size and parse time per command.
_DATE_BATCH = 2_000
_SKIP_STATUS = ("\\noselect", "\\nonexistent")
# The items of a FETCH that tells of another client's flag change (UID and MODSEQ come with
# CONDSTORE/QRESYNC).
_FLAG_NEWS = frozenset({"FLAGS", "UID", "MODSEQ"})
# Threading headers kept per connection (a few hundred bytes each), like _MAX_DATED.
_MAX_HEADS = 50_000
# Conversations cover the newest this many messages of a mailbox (by UID); docs/api.md.
MAX_THREADED = 20_000
_HEAD_FIELDS = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES SUBJECT DATE)]"
_HEAD_KEY = "BODY[HEADER.FIELDS"  # servers may spell the field list their own way


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A mailbox: full ``path`` (decoded), last component ``name``, role and counts."""

    path: str
    name: str
    delimiter: str | None
    role: str | None
    flags: frozenset[str]
    total: int
    unread: int
    subscribed: bool | None = None  # None when not asked


@dataclass(frozen=True, slots=True)
class Usage:
    used: int
    limit: int


@dataclass(frozen=True, slots=True)
class Quota:
    """The INBOX's quota root (RFC 9208): storage in bytes and message count, each None
    when the server sets no such limit."""

    storage: Usage | None
    messages: Usage | None


@dataclass(frozen=True, slots=True)
class SelectState:
    uidvalidity: int
    exists: int
    uidnext: int | None
    highestmodseq: int | None


@dataclass(frozen=True, slots=True)
class Summary:
    """A message as the list shows it. Never changed in place (news makes a new one with
    `replace`), nor its envelope: the encoded list page is reused while its summaries are
    the same objects (mailgate/mail/listing.py)."""

    uid: int
    flags: frozenset[str]
    internaldate: datetime | None
    size: int
    envelope: Envelope
    has_attachments: bool
    preview: str | None
    # An HTML body, as opening the message will find it (`has_html_body`).
    has_html: bool = False


@dataclass(frozen=True, slots=True)
class SearchHit:
    path: str
    uidvalidity: int
    summary: Summary


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    hits: list[SearchHit]


@dataclass(frozen=True, slots=True)
class Page:
    uidvalidity: int
    total: int
    summaries: list[Summary]


@dataclass(frozen=True, slots=True)
class Threads:
    """A mailbox's threads: each the UIDs of its messages; ``heads`` what each one says
    about itself (Message-ID, References, subject, sent date)."""

    uidvalidity: int
    groups: list[list[int]]
    heads: dict[int, Head]


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """Conversations of a mailbox, newest first: each the UIDs of its messages there."""

    uidvalidity: int
    total: int
    groups: list[list[int]]


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    """``raw`` is the whole message when it fits ``max_inline``, else None (fetch sections)."""

    uid: int
    flags: frozenset[str]
    size: int
    internaldate: datetime | None
    raw: bytes | None
    bodystructure: BodyPart
    header: bytes


@dataclass(slots=True)
class _Selected:
    path: str
    readonly: bool
    state: SelectState


def uid_set(uids: Iterable[int]) -> str:
    """Compress UIDs into an IMAP set: ``1:3,7,9:10`` (order does not matter to servers)."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ValueError("empty UID set")
    runs: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        runs.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    runs.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(runs)


def _uid(uid: int) -> str:
    if not isinstance(uid, int) or isinstance(uid, bool) or not 0 < uid < 2**32:
        raise ValueError("a UID is a positive 32-bit integer")
    return str(uid)


def _check_text(value: str) -> str:
    if any(ch in value for ch in "\0\r\n"):
        raise ValueError("text sent to the mail server cannot contain NUL, CR or LF")
    return value


def _flags(tok: Any) -> frozenset[str]:
    return frozenset(text(f) or "" for f in tok) if isinstance(tok, list) else frozenset()


def _int_or_none(tok: Any) -> int | None:
    try:
        return int(text(tok) or "")
    except ValueError:
        return None


def _name_role(name: str) -> str | None:
    low = name.lower()
    return _ROLE_NAMES.get(low) or ("archive" if low.startswith("archive") else None)


def _fetch_uid(u: Untagged) -> tuple[int | None, dict[str, Any]]:
    items = fetch_items(u)
    return _int_or_none(items.get("UID")), items


_SUMMARY_CACHE_MAX = 400
# How much of a text part a list preview is read from, on servers without PREVIEW.
_PREVIEW_BYTES = 1024


def _sent_date(header: Any, internaldate: Any) -> float:
    """RFC 5256 sent date as a UTC timestamp: the Date header, else INTERNALDATE, else 0."""
    if isinstance(header, bytes):
        _, _, value = header.decode("latin-1").partition(":")
        try:
            parsed = parsedate_to_datetime(" ".join(value.split()))
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:  # "-0000" or none: taken as UTC (RFC 5322 3.3)
                parsed = parsed.replace(tzinfo=UTC)
            try:
                return parsed.timestamp()
            except (OverflowError, ValueError):
                pass
    received = parse_internaldate(internaldate)
    return received.timestamp() if received is not None else 0.0


SortKey = float | int | str


def _header_value(raw: Any) -> str:
    """One fetched header field's value, unfolded, encoded words decoded."""
    if not isinstance(raw, bytes):
        return ""
    _, _, value = raw.decode("utf-8", "replace").partition(":")
    value = " ".join(value.split())
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return value


def _display_address(raw: Any) -> str:
    """RFC 5957 DISPLAYFROM / DISPLAYTO: the first address's display name, else the address."""
    addresses = getaddresses([_header_value(raw)])
    if not addresses:
        return ""
    name, address = addresses[0]
    return " ".join((name or address).split()).casefold()[:_KEY_CHARS]


def _sort_key(kind: str, it: dict[str, Any]) -> SortKey:
    """The value ``kind`` sorts by, from one FETCH response (see _KEY_ITEMS)."""
    if kind == "date":
        return _sent_date(it.get("BODY[HEADER.FIELDS (DATE)]"), it.get("INTERNALDATE"))
    if kind == "arrival":
        received = parse_internaldate(it.get("INTERNALDATE"))
        return received.timestamp() if received is not None else 0.0
    if kind == "size":
        return _int_or_none(it.get("RFC822.SIZE")) or 0
    field = next((v for k, v in it.items() if k.startswith("BODY[HEADER.FIELDS")), None)
    if kind in ("from", "to"):
        return _display_address(field)
    return base_subject(_header_value(field))[0][:_KEY_CHARS]


class MailClient:
    """Mailbox operations on one logged-in connection (one operation at a time per link)."""

    def __init__(self, conn: ImapConnection) -> None:
        self._conn = conn
        self._selected: _Selected | None = None
        self._dirty = False
        # How many pieces of news about the selected mailbox (messages that came or went,
        # flag changes, a new selection) this connection has taken in: a watcher compares
        # it before and after a command to learn that the reply brought news
        # (mailgate/push/feed.py).
        self.news_taken = 0
        # While the news since the selection is exact (messages that came, by EXISTS, and
        # went, by QRESYNC's VANISHED UIDs): how many the mailbox holds now and the UIDs
        # gone. Then _caught_up brings the selection up to date without a re-SELECT.
        self._growth: int | None = None
        self._vanished: set[int] = set()
        # QRESYNC is enabled once, before the connection's first selection (RFC 5161).
        self._enable_pending = True
        self._qresync = False
        self._wire: dict[str, str] = {}  # decoded path → wire name as the server listed it
        # Sorted/searched UIDs by (mailbox, sort, query), least recently used first, at most
        # VIEW_BUDGET bytes. Valid while the mailbox holds the same messages: a selection
        # that finds its UIDVALIDITY, UIDNEXT or EXISTS changed since drops its views (news
        # that is not exact makes select() re-SELECT; else _caught_up brings the kept
        # selection up to date), keeping its sorted views of
        # the whole mailbox aside in _stale to be patched (_patched). A UID's date never changes,
        # so views of other mailboxes are kept across selections, and flag news leaves
        # them all: no view depends on flags.
        self._orders: dict[tuple[str, str, str | None], array[int]] = {}
        # The (UIDVALIDITY, UIDNEXT, EXISTS) each mailbox's views were made under.
        self._stamps: dict[str, tuple[int, int, int]] = {}
        # Sorted views of a mailbox whose messages changed since, with the stamp they were
        # made under: patched from the change alone where that is exact (_patched).
        self._stale: dict[
            str, tuple[tuple[int, int, int], dict[tuple[str, str, str | None], array[int]]]
        ] = {}
        # The UIDs known to have left each mailbox with _stale views since (VANISHED).
        self._stale_gone: dict[str, frozenset[int]] = {}
        # Parsed summaries of the current selection: cleared with _orders, and kept up to
        # date by flag news (see _note).
        self._summary_cache: dict[int, Summary] = {}
        # Without SORT: each message's sort key by (mailbox, UIDVALIDITY, key) and UID: its
        # sent date (RFC 5256 DATE: the Date header, else INTERNALDATE), arrival time, sender,
        # base subject or size. A UID's keys never change, so this outlives re-SELECTs and
        # each list fetches only the keys of new messages.
        self._sort_keys: dict[tuple[str, int, str], dict[int, SortKey]] = {}
        # Threading headers by (mailbox, UIDVALIDITY) and UID: fixed for a UID, so kept
        # across re-SELECTs like _sort_keys (bounded by _MAX_HEADS).
        self._heads: dict[tuple[str, int], dict[int, Head]] = {}
        # The last list page as mailgate/mail/listing.py encoded it (one page: bounded),
        # kept here so that it lives and ends with the connection, like the summaries it
        # was made from.
        self.list_memo: object | None = None

    @property
    def connection(self) -> ImapConnection:
        return self._conn

    @property
    def closed(self) -> bool:
        return self._conn.closed

    async def logout(self) -> None:
        await self._conn.logout()

    def close(self) -> None:
        self._conn.close()

    # -- helpers --------------------------------------------------------------------------------

    def _mailbox_arg(self, path: str) -> QuotedArg | LiteralArg:
        _check_text(path)
        if not path:
            raise ValueError("empty mailbox name")
        if path.upper() == "INBOX":
            return quote("INBOX")
        return quote(self._wire.get(path) or utf7.encode(path))

    def _note(self, resp: Response, fetched: set[int] | None = None) -> None:
        """Take in the server's news about the selected mailbox. Messages that came or went
        make the cached views stale (the next select() re-SELECTs, or, when the news says
        exactly what came and went, asks for the new UIDs: _caught_up). A flag change (a FETCH
        of FLAGS alone) leaves the views as they are, since none depends on flags, and
        updates the cached summary (all are forgotten when the server names no UID)."""
        for u in resp.untagged:
            if u.kind in ("VANISHED", "EXPUNGE") or (
                u.kind == "EXISTS" and u.number != self._known_count()
            ):
                self.news_taken += 1
            if u.kind == "EXISTS":
                self._changed(exists=u.number)
            elif u.kind == "VANISHED":
                self._changed(vanished=_vanished_uids(u))
            elif u.kind == "EXPUNGE":
                self._changed()  # a sequence number: which UID went is unknown here
            elif u.kind == "FETCH":
                uid, items = _fetch_uid(u)
                if fetched is not None and uid in fetched:
                    continue
                self.news_taken += 1
                if set(items) <= _FLAG_NEWS:
                    # MODSEQ alone follows Dovecot's own \Seen of a message read by BODY[].
                    if "FLAGS" in items:
                        self._flag_news(uid, _flags(items["FLAGS"]))
                else:
                    self._changed()

    def _known_count(self) -> int | None:
        """How many messages the selected mailbox holds as far as the news told."""
        if self._growth is not None:
            return self._growth
        return self._selected.state.exists if self._selected is not None else None

    def _changed(self, *, exists: int | None = None, vanished: set[int] | None = None) -> None:
        """The selected mailbox's messages changed: it now holds ``exists``, or the UIDs
        ``vanished`` went; with neither (or after a change that said neither), what
        changed is not known exactly and the next selection re-SELECTs (see _caught_up)."""
        exact = self._selected is not None and (not self._dirty or self._growth is not None)
        self._dirty = True
        if not exact or (exists is None and not vanished):
            self._growth, self._vanished = None, set()
            return
        assert self._selected is not None  # for mypy: exact says so
        count = self._selected.state.exists if self._growth is None else self._growth
        if exists is not None:
            count = exists
        if vanished:
            fresh = vanished - self._vanished
            count -= len(fresh)
            self._vanished |= fresh
        self._growth = count

    def _flag_news(self, uid: int | None, flags: frozenset[str]) -> None:
        if uid is None:
            self._summary_cache.clear()
            return
        known = self._summary_cache.get(uid)
        if known is not None and known.flags != flags:
            self._summary_cache[uid] = replace(known, flags=flags)

    def _keep_view(self, key: tuple[str, str, str | None], uids: array[int]) -> None:
        """Keep one view within VIEW_BUDGET, the least recently used going first."""
        size = len(uids) * uids.itemsize
        if size > VIEW_BUDGET:
            return
        self._orders.pop(key, None)
        if self.view_bytes() + size > VIEW_BUDGET:
            self._stale.clear()  # views waiting to be patched go first
            self._stale_gone.clear()
        while self._orders and self.view_bytes() + size > VIEW_BUDGET:
            self._orders.pop(next(iter(self._orders)))
        self._orders[key] = uids

    def _forget_views(self, path: str, delimiter: str | None) -> None:
        """Drop the views of a renamed or deleted mailbox and of those under it."""
        under = path + delimiter if delimiter else None

        def gone(box: str) -> bool:
            return box == path or (under is not None and box.startswith(under))

        for key in [k for k in self._orders if gone(k[0])]:
            del self._orders[key]
        for box in [b for b in self._stamps if gone(b)]:
            del self._stamps[box]
        for box in [b for b in self._stale if gone(b)]:
            del self._stale[box]
            self._stale_gone.pop(box, None)

    def view_bytes(self) -> int:
        """The bytes of this connection's cached sorted and searched views (the arrays'
        items; Python's few dozen bytes per array aside)."""
        kept = sum(len(v) * v.itemsize for v in self._orders.values())
        return kept + sum(
            len(v) * v.itemsize for _, views in self._stale.values() for v in views.values()
        )

    def dates_bytes(self) -> int:
        """The bytes of the sort keys kept for servers without SORT (the dicts themselves;
        their float and short string values aside)."""
        return sum(sys.getsizeof(d) for d in self._sort_keys.values())

    # -- mailboxes ------------------------------------------------------------------------------

    async def mailboxes(
        self, *, subscriptions: bool = False, prime_inbox: bool = False
    ) -> list[Mailbox]:
        """All mailboxes with role and MESSAGES/UNSEEN counts (\\Noselect ones count 0);
        with ``subscriptions``, whether each is subscribed (an LSUB in the same round trip).

        ``prime_inbox`` (the mailbox list a session starts with): when nothing is selected,
        INBOX is selected in the same round trip, ahead of the counts. The list of INBOX
        that follows needs that selection, and a server counts a selected mailbox from its
        open index: Dovecot otherwise opens a big INBOX twice, for STATUS and then SELECT,
        each taking longer the more messages it holds (benchmarks/bigbox.py)."""
        conn = self._conn
        special = conn.has("SPECIAL-USE")
        counts: dict[str, dict[str, int]] = {}
        listing: tuple[object, ...]
        if conn.has("LIST-STATUS"):
            ret = (
                "(SPECIAL-USE STATUS (MESSAGES UNSEEN))"
                if special
                else "(STATUS (MESSAGES UNSEEN))"
            )
            listing = ("LIST", '""', '"*"', "RETURN", ret)
        elif special and conn.has("LIST-EXTENDED"):
            listing = ("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
        else:
            listing = ("LIST", '""', '"*"')
        prime = prime_inbox and self._selected is None
        commands: list[tuple[object, ...]] = [listing]
        enable: list[tuple[object, ...]] = []
        if prime:
            commands.insert(0, tuple(self._select_command("INBOX", False)))
            enable = self._enable_first()
        if subscriptions:
            commands.append(("LSUB", '""', '"*"'))
        listed = await conn.pipeline(*enable, *commands)
        if enable:
            self._enabled_by(listed.pop(0))
        if prime:
            with contextlib.suppress(ImapNoError, ImapBadError):
                self._selected_by("INBOX", False, listed.pop(0))  # else nothing is selected
        resp = raise_for_status(listed[0])
        for u in resp.of_kind("STATUS"):
            raw, values = parse_status(u.data)
            counts[raw] = values
        self._note(resp)  # servers piggyback news of the selected mailbox on any reply
        entries = [parse_list(u.data) for u in resp.of_kind("LIST")]
        self._wire = {e.path: e.raw for e in entries}
        selectable = [e for e in entries if not {f.lower() for f in e.flags} & set(_SKIP_STATUS)]
        missing = [e for e in selectable if e.raw not in counts]
        if missing:
            replies = await conn.pipeline(
                *(("STATUS", quote(e.raw), "(MESSAGES UNSEEN)") for e in missing)
            )
            for reply in replies:
                self._note(reply)
                if reply.status != "OK":
                    continue  # vanished meanwhile, or not ours to read: count 0
                for u in reply.of_kind("STATUS"):
                    raw, values = parse_status(u.data)
                    counts[raw] = values
        subscribed = self._subscribed(listed[-1]) if subscriptions else None
        result: list[Mailbox] = []
        taken: set[str] = set()
        roles: dict[str, str | None] = {}
        for e in entries:
            role = None
            if e.path.upper() == "INBOX":
                role = "inbox"
            elif special:
                role = next(
                    (_ROLE_FLAGS[f.lower()] for f in e.flags if f.lower() in _ROLE_FLAGS), None
                )
            roles[e.raw] = role
            if role:
                taken.add(role)
        if special:
            # A server with SPECIAL-USE but not CREATE-SPECIAL-USE cannot mark the Junk or
            # Archive folder made on demand (mailgate/mail/folders.py ensure_special): the
            # top-level one of that exact name takes a role no mailbox is marked with.
            for e in entries:
                role = _ON_DEMAND_NAMES.get(e.path)
                if role and roles[e.raw] is None and role not in taken:
                    roles[e.raw] = role
                    taken.add(role)
        else:
            # Well-known names at any level; the shallowest mailbox wins each role.
            by_depth = sorted(entries, key=lambda e: e.path.count(e.delimiter or "\0"))
            for e in by_depth:
                if roles[e.raw]:
                    continue
                last = e.path.rsplit(e.delimiter, 1)[-1] if e.delimiter else e.path
                role = _name_role(last)
                if role and role not in taken:
                    roles[e.raw] = role
                    taken.add(role)
        for e in entries:
            name = e.path.rsplit(e.delimiter, 1)[-1] if e.delimiter else e.path
            values = counts.get(e.raw, {})
            result.append(
                Mailbox(
                    path=e.path,
                    name=name,
                    delimiter=e.delimiter,
                    role=roles[e.raw],
                    flags=e.flags,
                    total=values.get("MESSAGES", 0),
                    unread=values.get("UNSEEN", 0),
                    subscribed=None if subscribed is None else e.path in subscribed,
                )
            )
        result.sort(key=lambda m: m.role != "inbox")  # stable: INBOX first, server order else
        return result

    # -- managing mailboxes (policy in mailgate/mail/folders.py) ---------------------------------

    async def _leave(self, path: str, delimiter: str | None) -> None:
        """Unselect ``path`` (or a mailbox under it) before it is renamed or deleted."""
        cur = self._selected
        if cur is None:
            return
        inside = cur.path == path or bool(delimiter and cur.path.startswith(path + delimiter))
        if not inside:
            return
        self._selected = None
        self._dirty, self._growth, self._vanished = False, None, set()
        self._orders.clear()
        self._stamps.clear()
        self._summary_cache.clear()
        if self._conn.has("UNSELECT"):
            self._note(await self._conn.command("UNSELECT"))
        else:
            # EXAMINE of INBOX leaves the mailbox without expunging anything (CLOSE would).
            await self._select("INBOX", True)

    async def create_mailbox(self, path: str, *, use: str | None = None) -> None:
        """CREATE ``path``; with ``use`` (for example "\\Junk") and CREATE-SPECIAL-USE, as
        ``CREATE path (USE (use))`` (RFC 6154), else a plain CREATE."""
        arg = quote(utf7.encode(path)) if path.upper() != "INBOX" else quote("INBOX")
        _check_text(path)
        if use and self._conn.has("CREATE-SPECIAL-USE"):
            if use.lower() not in _ROLE_FLAGS:
                raise ValueError("unknown special use")
            resp = await self._conn.command("CREATE", arg, f"(USE ({use}))")
        else:
            resp = await self._conn.command("CREATE", arg)
        self._note(resp)
        raise_for_status(resp)

    async def rename_mailbox(self, path: str, new_path: str, *, delimiter: str | None) -> None:
        _check_text(new_path)
        old = self._mailbox_arg(path)
        await self._leave(path, delimiter)
        resp = await self._conn.command("RENAME", old, quote(utf7.encode(new_path)))
        self._note(resp)
        raise_for_status(resp)
        self._sort_keys = {k: v for k, v in self._sort_keys.items() if k[0] != path}
        self._forget_views(path, delimiter)

    async def delete_mailbox(self, path: str, *, delimiter: str | None) -> None:
        arg = self._mailbox_arg(path)
        await self._leave(path, delimiter)
        resp = await self._conn.command("DELETE", arg)
        self._note(resp)
        raise_for_status(resp)
        self._sort_keys = {k: v for k, v in self._sort_keys.items() if k[0] != path}
        self._forget_views(path, delimiter)

    async def subscribe(self, path: str, on: bool) -> None:
        resp = await self._conn.command(
            "SUBSCRIBE" if on else "UNSUBSCRIBE", self._mailbox_arg(path)
        )
        self._note(resp)
        raise_for_status(resp)

    async def subscribed(self) -> set[str]:
        """The decoded paths of the subscribed mailboxes (LSUB)."""
        return self._subscribed(await self._conn.command("LSUB", '""', '"*"'))

    def _subscribed(self, resp: Response) -> set[str]:
        raise_for_status(resp)
        self._note(resp)
        return {parse_list(u.data).path for u in resp.of_kind("LSUB")}

    async def status(self, path: str) -> tuple[int, int]:
        """(MESSAGES, UNSEEN) of one mailbox."""
        resp = await self._conn.command("STATUS", self._mailbox_arg(path), "(MESSAGES UNSEEN)")
        self._note(resp)
        for u in resp.of_kind("STATUS"):
            _, values = parse_status(u.data)
            return values.get("MESSAGES", 0), values.get("UNSEEN", 0)
        return 0, 0

    async def quota(self) -> Quota | None:
        """GETQUOTAROOT INBOX where the server offers QUOTA, else (or when it refuses) None."""
        if not self._conn.has("QUOTA"):
            return None
        try:
            resp = await self._conn.command("GETQUOTAROOT", self._mailbox_arg("INBOX"))
        except (ImapNoError, ImapBadError):
            return None  # refused: nothing to show, as without QUOTA
        self._note(resp)
        if resp.status != "OK":
            return None
        found: dict[str, Usage] = {}
        for u in resp.of_kind("QUOTA"):
            items = u.data[1] if len(u.data) > 1 and isinstance(u.data[1], list) else []
            for at in range(0, len(items) - 2, 3):
                name = (text(items[at]) or "").upper()
                used, limit = _int_or_none(items[at + 1]), _int_or_none(items[at + 2])
                if name in ("STORAGE", "MESSAGE") and used is not None and limit:
                    scale = 1024 if name == "STORAGE" else 1  # STORAGE counts KiB
                    found.setdefault(name, Usage(used * scale, limit * scale))
        return Quota(found.get("STORAGE"), found.get("MESSAGE"))

    async def idle(self, timeout: float) -> list[Untagged]:
        """IDLE on the selected mailbox; changes reported make the next select() re-SELECT."""
        untagged = await self._conn.idle(timeout)
        self._note(Response("OK", untagged=untagged))
        return untagged

    # -- selection ------------------------------------------------------------------------------

    async def select(
        self,
        path: str,
        *,
        readonly: bool = False,
        uidvalidity: int | None = None,
        refresh: bool = True,
    ) -> SelectState:
        """SELECT (or EXAMINE) ``path`` unless it is already selected and unchanged.

        A read-write selection also serves read-only callers (we only ever use ``.PEEK``).
        With ``uidvalidity`` given, a different UIDVALIDITY raises :class:`ImapStale`.
        ``refresh=False`` trusts a kept selection without asking for news first (NOOP):
        for commands addressed by UID, whose replies bring any news along anyway.
        """
        state = await self._select(path, readonly, refresh)
        if uidvalidity is not None and state.uidvalidity != uidvalidity:
            raise ImapStale("uidvalidity")
        return state

    def _kept(self, path: str, readonly: bool) -> _Selected | None:
        """The current selection when it serves ``path`` as it is (no news since)."""
        cur = self._selected
        if cur and cur.path == path and (readonly or not cur.readonly) and not self._dirty:
            return cur
        return None

    async def _select(self, path: str, readonly: bool, refresh: bool = True) -> SelectState:
        self._mailbox_arg(path)  # a bad name fails before anything is sent
        cur = self._kept(path, readonly)
        if cur:
            if not refresh:
                return cur.state
            resp = await self._conn.command("NOOP")
            self._note(resp)
            if not self._dirty:
                return cur.state
        caught_up = await self._caught_up(path, readonly)
        if caught_up is not None:
            return caught_up
        command = self._select_command(path, readonly)
        enable = self._enable_first()
        if enable:
            enabled, resp = await self._conn.pipeline(*enable, command)
            self._enabled_by(enabled)
        else:
            resp = await self._conn.command(*command)
        return self._selected_by(path, readonly, resp)

    def _enabled_by(self, resp: Response) -> None:
        self._qresync = resp.status == "OK" and any(
            str(t).upper() == "QRESYNC" for u in resp.of_kind("ENABLED") for t in u.data
        )

    def _enable_first(self) -> list[tuple[object, ...]]:
        """ENABLE QRESYNC, to go before the connection's first selection (later it is not
        allowed): expunges are then reported as UIDs (VANISHED), so a kept selection
        follows them without a re-SELECT. Nothing when the server has no QRESYNC."""
        if not self._enable_pending:
            return []
        self._enable_pending = False
        return [("ENABLE", "QRESYNC")] if self._conn.has("QRESYNC") else []

    async def _caught_up(self, path: str, readonly: bool) -> SelectState | None:
        """The kept selection of ``path`` brought up to date without a re-SELECT, when the
        news since says exactly what changed: new messages (EXISTS), whose UIDs come from
        one ``UID SEARCH`` from the old UIDNEXT on, and, with QRESYNC, the UIDs that went
        (VANISHED). Nothing here costs in proportion to the mailbox. None when anything
        else changed (or the counts do not add up): then re-SELECT."""
        cur, growth, vanished = self._selected, self._growth, self._vanished
        if (
            cur is None
            or cur.path != path
            or (cur.readonly and not readonly)
            or growth is None
            or cur.state.uidnext is None
        ):
            return None
        old = cur.state
        assert old.uidnext is not None  # for mypy: checked above
        # News during the search starts a new account of changes.
        self._dirty, self._growth, self._vanished = False, None, set()
        resp = await self._conn.command("UID SEARCH", "UID", f"{old.uidnext}:*")
        self._note(resp)
        new = sorted({u for u in numbers_of(resp, "SEARCH") if u >= old.uidnext})
        gone = {u for u in vanished if u < old.uidnext}
        if self._dirty or resp.status != "OK" or old.exists - len(gone) + len(new) != growth:
            self._changed()
            return None
        state = replace(old, exists=growth, uidnext=new[-1] + 1 if new else old.uidnext)
        self._selected = _Selected(path, cur.readonly, state)
        for uid in gone:
            self._summary_cache.pop(uid, None)
        self._restamp(path, state, gone=frozenset(gone))
        return state

    def _select_command(self, path: str, readonly: bool) -> list[object]:
        """The SELECT (or EXAMINE) of ``path``; from here on nothing counts as selected."""
        parts: list[object] = ["EXAMINE" if readonly else "SELECT", self._mailbox_arg(path)]
        if self._conn.has("CONDSTORE"):
            parts.append("(CONDSTORE)")
        self._selected = None  # a failed SELECT leaves no mailbox selected
        self._dirty, self._growth, self._vanished = False, None, set()
        self._summary_cache.clear()
        return parts

    def _selected_by(self, path: str, readonly: bool, resp: Response) -> SelectState:
        """The selection the reply to _select_command made."""
        raise_for_status(resp)
        exists = 0
        codes: dict[str, Any] = {}
        for u in resp.untagged:
            if u.kind == "EXISTS" and u.number is not None:
                exists = u.number
            elif u.kind == "OK" and u.code:
                codes[u.code] = u.data[1] if len(u.data) > 1 else None
        validity = _int_or_none(codes.get("UIDVALIDITY"))
        if validity is None:
            raise ImapNoError("no_uidvalidity")
        state = SelectState(
            uidvalidity=validity,
            exists=exists,
            uidnext=_int_or_none(codes.get("UIDNEXT")),
            highestmodseq=None if "NOMODSEQ" in codes else _int_or_none(codes.get("HIGHESTMODSEQ")),
        )
        self._selected = _Selected(path, readonly, state)
        self._restamp(path, state)
        self.news_taken += 1  # a new baseline: what came before it is news to a watcher
        return state

    def _restamp(self, path: str, state: SelectState, gone: frozenset[int] = frozenset()) -> None:
        """Note the messages ``path`` now holds; views made under other messages go
        (``gone``: UIDs known to have left since, for _patched)."""
        validity, exists = state.uidvalidity, state.exists
        stamp = (validity, state.uidnext, exists) if state.uidnext is not None else None
        old = self._stamps.get(path)
        if stamp is None or old != stamp:
            # Other messages than when its views were made (or no way to tell): drop them,
            # but keep the whole-mailbox sorted views aside to be patched (_patched) when
            # only the UIDs since then came and went.
            stale: dict[tuple[str, str, str | None], array[int]] = {}
            for key in [k for k in self._orders if k[0] == path]:
                view = self._orders.pop(key)
                if key[1] in _SORT_NAMES:  # sorted orders and searches, not conversations
                    stale[key] = view
            self._stale.clear()  # one mailbox's at most, counted in VIEW_BUDGET
            self._stale_gone.clear()
            if stale and stamp is not None and old is not None and old[0] == validity:
                self._stale[path] = (old, stale)
                self._stale_gone[path] = gone
            self._stamps.pop(path, None)
            if stamp is not None:
                self._stamps[path] = stamp

    # -- listing --------------------------------------------------------------------------------

    def _criteria(self, query: str | None) -> list[object]:
        if not query:
            return ["ALL"]
        term = LiteralArg(_check_text(query).encode("utf-8"))
        # sender, recipients, subject and body (docs/api.md)
        return [
            "OR OR OR OR FROM",
            term,
            "TO",
            term,
            "CC",
            term,
            "SUBJECT",
            term,
            "BODY",
            term,
        ]

    async def list_page(
        self,
        path: str,
        *,
        offset: int = 0,
        limit: int = 50,
        sort: Sort = "date_desc",
        query: str | None = None,
        uidvalidity: int | None = None,
    ) -> Page:
        """One page of summaries in the order ``sort`` (see SORTS), newest first by default.

        With SORT the order is the server's (DISPLAYFROM for the sender where SORT=DISPLAY
        is offered, else FROM). Without SORT (pymap) it is the same RFC 5256 order, from
        keys this connection learns once per message (a restored or imported message lands
        at its date, not at the top); see _key_order. Ties go by arrival (UID), oldest
        first, in either direction, as RFC 5256 says.
        """
        if sort not in SORTS:
            raise ValueError("unknown sort order")
        if offset < 0 or limit < 1:
            raise ValueError("offset must be >= 0 and limit >= 1")
        query = query.strip() if query else None
        criteria = self._criteria(query)  # validates before anything is sent
        state = await self.select(path, uidvalidity=uidvalidity)
        uids = await self._view(path, state, sort, query, criteria)
        page = uids[offset : offset + limit].tolist()
        return Page(state.uidvalidity, len(uids), await self._summaries(page))

    async def _view(
        self,
        path: str,
        state: SelectState,
        sort: Sort,
        query: str | None,
        criteria: list[object],
    ) -> array[int]:
        """The UIDs of the selected ``path`` matching ``criteria`` in the order ``sort``:
        the kept view, else sorted (and kept within VIEW_BUDGET)."""
        conn = self._conn
        order_key = (path, sort, query)
        cached = self._orders.pop(order_key, None)
        if cached is not None:
            self._orders[order_key] = cached  # the most recently used now
            return cached
        kind, _, direction = sort.partition("_")
        descending = direction == "desc"
        if conn.has("SORT"):
            patched = await self._patched(path, state, order_key, criteria)
            if patched is not None:
                return patched
            order = self._sort_order(sort)
            resp = await conn.command("UID SORT", order, "UTF-8", *criteria)
            uids = numbers_of(resp, "SORT")
        else:
            charset: list[object] = ["CHARSET", "UTF-8"] if query else []
            resp = await conn.command("UID SEARCH", *charset, *criteria)
            self._note(resp)
            found = sorted(set(numbers_of(resp, "SEARCH")))
            uids = array(
                "I", await self._key_order(path, state.uidvalidity, found, kind, descending)
            )
        self._note(resp)
        if not self._dirty:
            self._keep_view(order_key, uids)
        return uids

    def _sort_order(self, sort: Sort) -> str:
        """The SORT program of ``sort`` (with SORT=DISPLAY, the display names)."""
        kind, _, direction = sort.partition("_")
        key = _SORT_KEYS[kind]
        if kind in ("from", "to") and self._conn.has("SORT=DISPLAY"):
            key = f"DISPLAY{key}"
        return f"(REVERSE {key})" if direction == "desc" else f"({key})"

    async def _patched(
        self,
        path: str,
        state: SelectState,
        key: tuple[str, str, str | None],
        criteria: list[object],
    ) -> array[int] | None:
        """A sorted view of the mailbox (or of a search in it, ``criteria``) made before
        messages came or went, brought up to date from the change alone, or None (then it
        is sorted afresh).

        Expunged UIDs are taken out (what remains keeps its order: the server's order of a
        subset is the subset of its order); for a search, only when the server named them
        (VANISHED). Of the new UIDs a search keeps those that match it, asked of the new
        UIDs alone (a body search of a big mailbox takes seconds). New UIDs go to the front
        when the server, sorting them together with the view's first message, puts that
        one last (a new message with the newest date in a newest-first view), or to the
        end when it puts the view's last message first; anywhere else, the view is sorted
        afresh."""
        kept = self._stale.get(path)
        if kept is None or key not in kept[1] or state.uidnext is None:
            return None
        (_, old_next, old_exists), views = kept
        view = views.pop(key)
        known = self._stale_gone.get(path, frozenset())
        if not views:
            del self._stale[path]
            self._stale_gone.pop(path, None)
        conn = self._conn
        resp = await conn.command("UID SEARCH", "UID", f"{old_next}:*")
        self._note(resp)
        new = sorted({u for u in numbers_of(resp, "SEARCH") if u >= old_next})
        gone = old_exists + len(new) - state.exists
        if resp.status != "OK" or gone < 0 or len(new) > _PATCH_MAX or self._dirty:
            return None
        if gone and len(known) == gone:
            # The server named them (VANISHED): no need to ask which UIDs are left.
            view = await _off_loop(len(view), _without, view, known)
        elif gone and key[2] is not None:
            return None  # which of a search's messages went would take the search again
        elif gone:
            resp = await conn.command("UID SEARCH", "ALL")
            self._note(resp)
            if resp.status != "OK" or self._dirty:
                return None
            present = numbers_of(resp, "SEARCH")
            view = await _off_loop(len(view), _keep_present, view, present)
            if len(view) + len(new) != state.exists:
                return None
        if new and key[2] is not None:
            resp = await conn.command(
                "UID SEARCH", "CHARSET", "UTF-8", "UID", uid_set(new), *criteria
            )
            self._note(resp)
            if resp.status != "OK" or self._dirty:
                return None
            candidates = set(new)
            new = sorted({u for u in numbers_of(resp, "SEARCH") if u in candidates})
        if new:
            order = self._sort_order(key[1])  # type: ignore[arg-type]
            merged: array[int] | None = None
            for edge in ([view[0]] if view else []) + ([view[-1]] if len(view) > 1 else []):
                resp = await conn.command("UID SORT", order, "UTF-8", "UID", uid_set([edge, *new]))
                self._note(resp)
                got = numbers_of(resp, "SORT")
                if resp.status != "OK" or self._dirty or len(got) != len(new) + 1:
                    return None
                if got[-1] == edge == view[0]:
                    merged = got[:-1] + view
                    break
                if got[0] == edge == view[-1]:
                    merged = view + got[1:]
                    break
            if not view:
                resp = await conn.command("UID SORT", order, "UTF-8", "UID", uid_set(new))
                self._note(resp)
                merged = numbers_of(resp, "SORT")
                if resp.status != "OK" or self._dirty or len(merged) != len(new):
                    return None
            if merged is None:
                return None
            view = merged
        self._keep_view(key, view)
        return view

    async def _key_order(
        self, path: str, uidvalidity: int, uids: list[int], kind: str, descending: bool
    ) -> list[int]:
        """``uids`` (ascending) in RFC 5256 order by ``kind``, ties by UID ascending. Only
        the keys not yet known are fetched; past _MAX_DATED messages, arrival order."""
        key = (path, uidvalidity, kind)
        keys = self._sort_keys.get(key)
        if keys is None:
            keys = self._sort_keys[key] = {}
        missing = [u for u in uids if u not in keys]
        known = sum(len(d) for d in self._sort_keys.values())
        if known + len(missing) > _MAX_DATED:
            # Forget other mailboxes and keys first; one too large on its own keeps UID order.
            for other in [k for k in self._sort_keys if k != key]:
                del self._sort_keys[other]
            if len(keys) + len(missing) > _MAX_DATED:
                keys.clear()
                return uids[::-1] if descending else uids
        for start in range(0, len(missing), _DATE_BATCH):
            batch = missing[start : start + _DATE_BATCH]
            resp = await self._conn.command(
                "UID FETCH", uid_set(batch), f"(UID {_KEY_ITEMS[kind]})"
            )
            self._note(resp, set(batch))
            for u in resp.of_kind("FETCH"):
                uid, it = _fetch_uid(u)
                if uid is not None:
                    keys[uid] = _sort_key(kind, it)
        # A message gone meanwhile has no key: it sorts first and drops out on the next list.
        blank: SortKey = "" if kind in ("from", "to", "subject") else 0
        # uids is ascending and sorted() is stable even reversed: ties stay by UID ascending.
        return sorted(uids, key=lambda u: keys.get(u, blank), reverse=descending)

    # -- search across mailboxes ----------------------------------------------------------------

    def _sent_dates_of(self, path: str, uidvalidity: int) -> dict[int, float]:
        """The sent dates _key_order learnt for ``path`` (timestamps; none when forgotten)."""
        keys = self._sort_keys.get((path, uidvalidity, "date"), {})
        return {uid: float(value) for uid, value in keys.items() if isinstance(value, int | float)}

    async def search_mailboxes(
        self, paths: Sequence[str], criteria: Sequence[object], *, offset: int, limit: int
    ) -> SearchPage:
        """Messages matching ``criteria`` in any of ``paths``, newest first by sent date
        across all of them. Per mailbox: one SEARCH (SORT where offered) and the dates of
        at most offset+limit matches; then the summaries of the page alone."""
        wanted = offset + limit
        total = 0
        candidates: list[tuple[float, int, str, int, int]] = []
        for rank, path in enumerate(paths):
            try:
                state = await self.select(path, readonly=True)
            except (ImapNoError, ImapBadError, ValueError):
                continue  # gone, not selectable after all, or a name no command can carry
            if self._conn.has("SORT"):
                resp = await self._conn.command("UID SORT", "(REVERSE DATE)", "UTF-8", *criteria)
                found = numbers_of(resp, "SORT").tolist()
                newest = found[:wanted][::-1]
            else:
                resp = await self._conn.command("UID SEARCH", "CHARSET", "UTF-8", *criteria)
                found = sorted(set(numbers_of(resp, "SEARCH")))
                newest = found
            self._note(resp)
            if resp.status != "OK":
                continue  # a mailbox that refuses the search is left out, not the search
            total += len(found)
            ordered = await self._key_order(path, state.uidvalidity, newest, "date", False)
            dates = self._sent_dates_of(path, state.uidvalidity)
            for uid in ordered[-wanted:]:
                candidates.append((dates.get(uid, 0.0), rank, path, state.uidvalidity, uid))
        candidates.sort(key=lambda c: (-c[0], c[1], -c[4]))
        page = candidates[offset : offset + limit]
        summaries: dict[tuple[str, int], Summary] = {}
        for path in dict.fromkeys(c[2] for c in page):
            uids = [c[4] for c in page if c[2] == path]
            state = await self.select(path, readonly=True)
            for found_summary in await self._summaries(uids):
                summaries[(path, found_summary.uid)] = found_summary
        hits = [
            SearchHit(path, validity, summaries[(path, uid)])
            for _, _, path, validity, uid in page
            if (path, uid) in summaries
        ]
        return SearchPage(total, hits)

    # -- threads --------------------------------------------------------------------------------

    async def _newest_of_selected(self, count: int) -> list[int]:
        """The ``count`` highest UIDs of the selected mailbox, ascending. Where the server
        offers ESEARCH (RFC 4731) they are read from ranges: ``1:100000`` rather than 590 KB
        of numbers; a 100,000-message INBOX answers in 14 ms rather than 24 ms plus the
        parsing. Only the ``count`` wanted are ever made into numbers, whatever the ranges
        claim; a server refusing the form, or answering it unreadably, gets the plain one."""
        if count <= 0:
            return []
        if self._conn.has("ESEARCH"):
            resp = await self._conn.execute("UID SEARCH", "RETURN", "(ALL)", "ALL")
            self._note(resp)
            atom = _esearch_all(resp) if resp.status == "OK" else None
            if atom is not None:
                found = await _off_loop(len(atom) // 8, _newest_in_set, atom, count)
                if found is not None:
                    return found
        resp = await self._conn.command("UID SEARCH", "ALL")
        self._note(resp)
        uids = numbers_of(resp, "SEARCH")
        return await _off_loop(len(uids), _newest_uids, uids, count)

    async def threads(self, path: str, *, uidvalidity: int | None = None) -> Threads:
        """The threads of ``path`` (its newest MAX_THREADED messages) with every message's
        threading headers: the server's ``THREAD=REFERENCES`` where advertised, else RFC
        5256's algorithm run here on the headers this connection learns once per message."""
        state = await self.select(path, uidvalidity=uidvalidity)
        uids = await self._newest_of_selected(MAX_THREADED)
        heads = await self._heads_of(path, state.uidvalidity, uids)
        return Threads(state.uidvalidity, await self._thread_groups(path, state, uids), heads)

    async def _thread_groups(
        self, path: str, state: SelectState, uids: list[int]
    ) -> list[list[int]]:
        """The threads of ``uids`` (ascending, the newest of the selected ``path``), each
        its UIDs in the server's THREAD order. With THREAD=REFERENCES nothing is fetched per
        message; else the threading headers are (once per connection)."""
        if not uids:
            return []
        if self._conn.has("THREAD=REFERENCES"):
            criteria = "ALL" if uids[0] == 1 else f"UID {uids[0]}:*"
            resp = await self._conn.command("UID THREAD", "REFERENCES", "UTF-8", criteria)
            self._note(resp)
            if resp.status == "OK":  # else (a server refusing UTF-8, say): computed here
                trees = [tree for u in resp.of_kind("THREAD") for tree in u.data]
                return await _off_loop(len(uids), _thread_answer, trees, set(uids))
        heads = await self._heads_of(path, state.uidvalidity, uids)
        return groups(thread((u, heads[u]) for u in uids if u in heads))

    async def _conversation_view(self, path: str, state: SelectState) -> array[int]:
        """The threads of the selected ``path``, newest first by the sent date of each
        one's newest message, kept like a sorted view: ``[count, n1, uids…, n2, uids…]``.

        Built from the date order (the kept list view, else one SORT) and the server's
        THREAD (or our threading), with no per-message work beyond those two answers'
        numbers; kept within VIEW_BUDGET and dropped with the other views of ``path`` when
        messages come or go."""
        key: tuple[str, str, str | None] = (path, "conversations", None)
        cached = self._orders.pop(key, None)
        if cached is not None:
            self._orders[key] = cached
            return cached
        dates = await self._view(path, state, "date_desc", None, ["ALL"])
        uids = await _off_loop(len(dates), _newest_uids, dates, MAX_THREADED)
        found = await self._thread_groups(path, state, uids)
        view = await _off_loop(len(dates), _conversation_order, dates, found)
        if not self._dirty:
            self._keep_view(key, view)
        return view

    async def conversation_page(
        self,
        path: str,
        *,
        offset: int = 0,
        limit: int | None = None,
        uidvalidity: int | None = None,
    ) -> ConversationPage:
        """One page of ``path``'s conversations (all from ``offset`` when ``limit`` is
        None), newest first; see _conversation_view."""
        state = await self.select(path, uidvalidity=uidvalidity)
        view = await self._conversation_view(path, state)
        return ConversationPage(state.uidvalidity, view[0], _groups_of(view, offset, limit, None))

    async def conversation_of(
        self, path: str, uid: int, *, uidvalidity: int | None = None
    ) -> tuple[int, list[int] | None]:
        """UIDVALIDITY and the UIDs of the conversation holding ``uid`` (None: none does)."""
        state = await self.select(path, uidvalidity=uidvalidity)
        view = await self._conversation_view(path, state)
        found = _groups_of(view, 0, None, uid)
        return state.uidvalidity, (found[0] if found else None)

    async def heads(
        self, path: str, uids: list[int], *, uidvalidity: int | None = None
    ) -> dict[int, Head]:
        """The threading headers of ``uids`` of ``path`` (learnt once per connection)."""
        state = await self.select(path, uidvalidity=uidvalidity, refresh=False)
        return await self._heads_of(path, state.uidvalidity, uids)

    async def recent_heads(self, path: str, count: int) -> tuple[int, dict[int, Head]]:
        """UIDVALIDITY and the threading headers of the newest ``count`` messages."""
        state = await self.select(path, readonly=True)
        uids = await self._newest_of_selected(count)
        return state.uidvalidity, await self._heads_of(path, state.uidvalidity, uids)

    async def _heads_of(self, path: str, uidvalidity: int, uids: list[int]) -> dict[int, Head]:
        """Threading headers of ``uids`` of the selected mailbox; only unknown ones are
        fetched. Past _MAX_HEADS other mailboxes are forgotten first."""
        key = (path, uidvalidity)
        heads = self._heads.get(key)
        if heads is None:
            heads = self._heads[key] = {}
        missing = [u for u in uids if u not in heads]
        known = sum(len(d) for d in self._heads.values())
        if known + len(missing) > _MAX_HEADS:
            for other in [k for k in self._heads if k != key]:
                del self._heads[other]
            if len(heads) + len(missing) > _MAX_HEADS:
                heads.clear()
        for start in range(0, len(missing), _DATE_BATCH):
            batch = missing[start : start + _DATE_BATCH]
            resp = await self._conn.command(
                "UID FETCH", uid_set(batch), f"(UID INTERNALDATE {_HEAD_FIELDS})"
            )
            self._note(resp, set(batch))
            for u in resp.of_kind("FETCH"):
                uid, it = _fetch_uid(u)
                if uid is None:
                    continue
                received = parse_internaldate(it.get("INTERNALDATE"))
                fields = next((v for k, v in it.items() if k.startswith(_HEAD_KEY)), None)
                heads[uid] = parse_head(
                    fields if isinstance(fields, bytes) else None,
                    received.timestamp() if received is not None else 0.0,
                )
        wanted = set(uids)
        return {u: h for u, h in heads.items() if u in wanted}

    async def summaries(
        self,
        path: str,
        uids: Sequence[int],
        *,
        uidvalidity: int | None = None,
        readonly: bool = False,
    ) -> list[Summary]:
        """Summaries of the given UIDs of ``path`` (missing UIDs are left out)."""
        await self.select(path, uidvalidity=uidvalidity, readonly=readonly)
        return await self._summaries(uids)

    async def uids_with_message_id(self, path: str, message_id_header: str) -> list[int]:
        """UIDs in ``path`` whose Message-ID header contains ``message_id_header``
        (``UID SEARCH HEADER``, a substring match on every server)."""
        term = LiteralArg(_check_text(message_id_header).encode("utf-8"))
        await self.select(path)
        resp = await self._conn.command("UID SEARCH", "HEADER", "Message-ID", term)
        self._note(resp)
        return sorted(set(numbers_of(resp, "SEARCH")))

    async def exists(self, path: str, uid: int, *, uidvalidity: int | None = None) -> bool:
        """Whether ``uid`` names a message in ``path`` now.

        A kept selection is asked without a NOOP first (one round trip, not two); only
        an answer that may be stale news (no such message, or Dovecot's ghost of one
        expunged elsewhere, whose first byte reads as NIL) is asked again from a refreshed
        selection."""
        kept = self._kept(path, False) is not None
        await self.select(path, uidvalidity=uidvalidity, refresh=False)
        if await self._present(uid):
            return True
        if not kept:
            return False
        await self.select(path, uidvalidity=uidvalidity)
        return await self._present(uid)

    async def _present(self, uid: int) -> bool:
        resp = await self._conn.command("UID FETCH", _uid(uid), "(UID BODY.PEEK[]<0.1>)")
        self._note(resp, {uid})
        for item in resp.of_kind("FETCH"):
            found, attrs = _fetch_uid(item)
            if found == uid:
                return bool(attrs.get("BODY[]<0>"))
        return False

    async def _summaries(self, uids: Sequence[int]) -> list[Summary]:
        if not uids:
            return []
        cache = self._summary_cache
        missing = [u for u in uids if u not in cache]
        fetched = {s.uid: s for s in await self._fetch_summaries(missing)} if missing else {}
        page = [found for u in uids if (found := cache.get(u) or fetched.get(u)) is not None]
        if len(cache) + len(fetched) > _SUMMARY_CACHE_MAX:
            cache.clear()  # bounded memory per session: a few pages' worth
        cache.update(fetched)
        return page

    async def _fetch_summaries(self, uids: Sequence[int]) -> list[Summary]:
        conn = self._conn
        items = "UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE"
        server_previews = True
        if conn.has("PREVIEW"):
            items += " PREVIEW"
        elif conn.has("SNIPPET=FUZZY"):
            items += " SNIPPET (FUZZY)"
        else:
            server_previews = False
        sources: dict[int, BodyPart] = {}
        resp = await conn.command("UID FETCH", uid_set(uids), f"({items})")
        wanted = set(uids)
        self._note(resp, wanted)
        found: dict[int, Summary] = {}
        for u in resp.of_kind("FETCH"):
            uid, it = _fetch_uid(u)
            if uid is None or uid not in wanted or "ENVELOPE" not in it:
                continue
            body = parse_bodystructure(it.get("BODYSTRUCTURE"))
            if not server_previews and (source := _preview_source(body)) is not None:
                sources[uid] = source
            preview = it.get("PREVIEW")
            snippet = it.get("SNIPPET")
            if preview is None and isinstance(snippet, list) and len(snippet) > 1:
                preview = snippet[1]
            found[uid] = Summary(
                uid=uid,
                flags=_flags(it.get("FLAGS")),
                internaldate=parse_internaldate(it.get("INTERNALDATE")),
                size=_int_or_none(it.get("RFC822.SIZE")) or 0,
                envelope=parse_envelope(it.get("ENVELOPE")),
                has_attachments=has_attachments(body),
                preview=text(preview),
                has_html=has_html_body(body),
            )
        if sources:
            await self._fill_previews(found, sources)
        return [found[uid] for uid in uids if uid in found]

    async def _fill_previews(self, found: dict[int, Summary], sources: dict[int, BodyPart]) -> None:
        """Previews on a server without PREVIEW: the first bytes of each message's text
        part, one partial FETCH per distinct section (most messages share "1" or "1.1")."""
        by_section: dict[str, list[int]] = {}
        for uid, part in sources.items():
            by_section.setdefault(part.part, []).append(uid)
        for section, uids in by_section.items():
            item = f"BODY.PEEK[{section}]<0.{_PREVIEW_BYTES}>"
            resp = await self._conn.command("UID FETCH", uid_set(uids), f"(UID {item})")
            self._note(resp, set(uids))
            for u in resp.of_kind("FETCH"):
                got, it = _fetch_uid(u)
                data = it.get(f"BODY[{section}]<0>")
                if got is None or got not in found or got not in sources:
                    continue
                if isinstance(data, bytes):
                    part = sources[got]
                    line = _as_text(decode_prefix(data, part.encoding), part.charset)
                    found[got] = replace(found[got], preview=one_line_preview(line))

    # -- one message ----------------------------------------------------------------------------

    async def fetch_message(
        self,
        path: str,
        uid: int,
        *,
        peek: bool,
        max_inline: int = 256 * 1024,
        uidvalidity: int | None = None,
    ) -> FetchedMessage | None:
        """Flags, structure and (when small) the whole message in one round trip.

        Unless ``peek``, ``\\Seen`` is set in the same round trip (the FETCH reads BODY[]).
        Returns None when the UID does not exist.
        """
        _uid(uid)
        if max_inline < 1:
            raise ValueError("max_inline must be positive")
        kept = self._kept(path, readonly=False) is not None
        await self.select(path, uidvalidity=uidvalidity, refresh=False)
        try:
            found = await self._fetch_message(path, uid, peek, max_inline)
        except ImapNoError:
            if not kept:
                raise
            found = None
        if kept and (found is None or found.size == 0):
            # Asked without a NOOP first: news held back until now (Dovecot answers for a
            # message expunged elsewhere with an empty ghost, a STORE on it with NO) is
            # fetched now, and the message read once more from a fresh selection.
            await self.select(path, uidvalidity=uidvalidity)
            found = await self._fetch_message(path, uid, peek, max_inline)
        return found

    async def _fetch_message(
        self, path: str, uid: int, peek: bool, max_inline: int
    ) -> FetchedMessage | None:
        suid = _uid(uid)
        known = self._summary_cache.get(uid)
        # Reading a message this selection already knows as \Seen changes nothing (a flag
        # cleared elsewhere since would be news, which empties the cache; see below too);
        # else the FETCH itself sets \Seen (BODY[], not BODY.PEEK[]), as any client's
        # reading does: one command where a FETCH and a STORE were (measured: 2.8 to 1.1 ms).
        store_seen = not peek and not (known is not None and "\\Seen" in known.flags)
        body = "BODY" if store_seen else "BODY.PEEK"
        items = f"(UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE {body}[]<0.{max_inline}>)"
        reply = raise_for_status(await self._conn.command("UID FETCH", suid, items))
        replies = [reply]
        if store_seen:
            self._saw_own_seen(uid, reply)
        else:
            self._note(reply, {uid})
        it = next(
            (
                i
                for u in replies[0].of_kind("FETCH")
                for i in [fetch_items(u)]
                if _int_or_none(i.get("UID")) == uid
            ),
            None,
        )
        if it is None:
            return None
        size = _int_or_none(it.get("RFC822.SIZE")) or 0
        data = it.get("BODY[]<0>")
        data = data if isinstance(data, bytes) else b""
        whole = len(data) < max_inline or size <= len(data)
        flags = _flags(it.get("FLAGS"))
        if not peek and not store_seen and "\\Seen" not in flags:
            # Unseen after all (the news had not reached us yet): mark it now.
            reply = raise_for_status(
                await self._conn.command("UID STORE", suid, "+FLAGS.SILENT", "(\\Seen)")
            )
            self._saw_own_seen(uid, reply)
        if not peek:
            flags |= {"\\Seen"}
        known = self._summary_cache.get(uid)
        if known is not None:
            # The FETCH's flags (with our own \Seen) are the message's now: they also carry
            # another client's change to this very message, which _note does not count.
            fresh = flags if "FLAGS" in it else known.flags | flags
            if fresh != known.flags:
                self._summary_cache[uid] = replace(known, flags=frozenset(fresh))
        header = _header_of(data)
        if header is None and whole:
            header = data  # a message without a body
        if header is None:
            header = (await self.fetch_sections(path, uid, ["HEADER"])).get("HEADER", b"")
        return FetchedMessage(
            uid=uid,
            flags=flags,
            size=size,
            internaldate=parse_internaldate(it.get("INTERNALDATE")),
            raw=data if whole else None,
            bodystructure=parse_bodystructure(it.get("BODYSTRUCTURE")),
            header=header,
        )

    def _saw_own_seen(self, uid: int, reply: Response) -> None:
        """Our own \\Seen moves only HIGHESTMODSEQ (forgotten here); the selection and the
        cached SORT/SEARCH orders (which never look at flags) stay valid, so the next
        request need not re-SELECT and re-SORT (the cached summary gets the flag in
        _fetch_message). News about other messages still counts."""
        self._note(reply, {uid})
        if self._selected is not None:
            self._selected.state = replace(self._selected.state, highestmodseq=None)

    async def fetch_sections(
        self, path: str, uid: int, sections: Sequence[str], *, uidvalidity: int | None = None
    ) -> dict[str, bytes]:
        """Several ``BODY.PEEK[section]`` in one FETCH; {} when the UID does not exist."""
        suid = _uid(uid)
        if not sections:
            return {}
        for section in sections:
            if not _SECTION.fullmatch(section):
                raise ValueError("invalid section")
        await self.select(path, uidvalidity=uidvalidity)
        items = " ".join(f"BODY.PEEK[{s}]" for s in sections)
        resp = await self._conn.command("UID FETCH", suid, f"(UID {items})")
        self._note(resp, {uid})
        out: dict[str, bytes] = {}
        for u in resp.of_kind("FETCH"):
            got, it = _fetch_uid(u)
            if got != uid:
                continue
            for section in sections:
                value = it.get(f"BODY[{section.upper()}]")
                if value is not None or f"BODY[{section.upper()}]" in it:
                    out[section] = value if isinstance(value, bytes) else b""
        return out

    async def stream_section(
        self,
        path: str,
        uid: int,
        section: str,
        *,
        binary: bool = True,
        chunk_size: int = DEFAULT_CHUNK,
        uidvalidity: int | None = None,
    ) -> SectionStream:
        """Select ``path`` and start streaming one section (``""`` = the raw message)."""
        _uid(uid)
        await self.select(path, uidvalidity=uidvalidity, refresh=False)
        return await self._conn.fetch_section_stream(
            uid,
            section,
            binary=binary,
            chunk_size=chunk_size,
            # News the server sends around the literal counts like any other: kept
            # selection state (and Dovecot's cache of the decoded part) survive otherwise.
            on_done=lambda resp: self._note(resp, {uid}),
        )

    # -- changes ----------------------------------------------------------------------------------

    async def store_flags(
        self,
        path: str,
        uid: int,
        *,
        seen: bool | None = None,
        flagged: bool | None = None,
        uidvalidity: int | None = None,
    ) -> frozenset[str] | None:
        """Set or clear \\Seen / \\Flagged; returns the new flags (None: no such UID)."""
        suid = _uid(uid)
        await self.select(path, uidvalidity=uidvalidity)
        add = [f for f, v in (("\\Seen", seen), ("\\Flagged", flagged)) if v is True]
        remove = [f for f, v in (("\\Seen", seen), ("\\Flagged", flagged)) if v is False]
        # Non-silent STOREs return the resulting flags. (Dovecot may fold the reply to a
        # pipelined STORE .SILENT + FETCH into one MODSEQ-only FETCH, losing the flags.)
        commands: list[tuple[object, ...]] = []
        if add:
            commands.append(("UID STORE", suid, "+FLAGS", f"({' '.join(add)})"))
        if remove:
            commands.append(("UID STORE", suid, "-FLAGS", f"({' '.join(remove)})"))
        if not commands:
            commands.append(("UID FETCH", suid, "(UID FLAGS)"))
        replies = await self._conn.pipeline(*commands)
        for reply in replies:
            raise_for_status(reply)
            self._note(reply, {uid})
        flags: frozenset[str] | None = None
        for reply in replies:
            for u in reply.of_kind("FETCH"):
                got, it = _fetch_uid(u)
                if got == uid and "FLAGS" in it:
                    flags = _flags(it["FLAGS"])
        # Our own flag change leaves every view as it is (none depends on flags).
        if flags is not None:
            self._flag_news(uid, flags)
        else:
            self._summary_cache.pop(uid, None)
        return flags

    async def add_flags(
        self, path: str, uid: int, flags: Iterable[str], *, uidvalidity: int | None = None
    ) -> None:
        """``UID STORE +FLAGS.SILENT``; the selection's cached state is then stale."""
        await self.select(path, uidvalidity=uidvalidity)
        resp = await self._conn.command(
            "UID STORE", _uid(uid), "+FLAGS.SILENT", f"({' '.join(flags)})"
        )
        raise_for_status(resp)
        self._note(resp, {uid})
        self._summary_cache.pop(uid, None)  # views stay: none depends on flags

    async def move(
        self, path: str, uid: int, dest: str, *, uidvalidity: int | None = None
    ) -> int | None:
        """Move one message; the new UID when the server reports COPYUID (UIDPLUS).

        Without MOVE: UID COPY, flag \\Deleted, then UID EXPUNGE of this UID only (UIDPLUS).
        Without UIDPLUS the original is only flagged \\Deleted: a bare EXPUNGE could remove
        other messages.
        """
        suid = _uid(uid)
        dest_arg = self._mailbox_arg(dest)
        await self.select(path, uidvalidity=uidvalidity)
        conn = self._conn
        self._expunging()
        if conn.has("MOVE"):
            resp = await conn.command("UID MOVE", suid, dest_arg)
            self._note(resp)
        else:
            resp = await conn.command("UID COPY", suid, dest_arg)
            cmds: list[tuple[object, ...]] = [("UID STORE", suid, "+FLAGS.SILENT", "(\\Deleted)")]
            if conn.has("UIDPLUS"):
                cmds.append(("UID EXPUNGE", suid))
            for reply in await conn.pipeline(*cmds):
                self._note(reply, {uid})
                raise_for_status(reply)
        return _copied_uid(resp, uid)

    def _expunging(self) -> None:
        """Before our own command removes messages from the selection: with QRESYNC its
        reply names them (VANISHED, exact); otherwise count the selection as changed
        whatever the reply says."""
        if not self._qresync:
            self._changed()

    async def set_keywords(
        self,
        path: str,
        uid: int,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        uidvalidity: int | None = None,
    ) -> None:
        """Add and remove flags or keywords (for example ``$Junk``) on one message."""
        adds, removes = list(add), list(remove)
        for flag in (*adds, *removes):
            if not _FLAG.fullmatch(flag):
                raise ValueError("invalid flag")
        suid = _uid(uid)
        await self.select(path, uidvalidity=uidvalidity)
        self._summary_cache.pop(uid, None)  # views stay: none depends on flags
        if adds:
            resp = await self._conn.command(
                "UID STORE", suid, "+FLAGS.SILENT", f"({' '.join(adds)})"
            )
            self._note(resp, {uid})
        if removes:
            resp = await self._conn.command(
                "UID STORE", suid, "-FLAGS.SILENT", f"({' '.join(removes)})"
            )
            self._note(resp, {uid})

    async def empty_mailbox(self, path: str) -> int:
        """Delete every message of ``path`` for good; how many there were."""
        state = await self.select(path)
        if not state.exists:
            return 0
        self._changed()
        replies = await self._conn.pipeline(
            ("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)"), ("EXPUNGE",)
        )
        for reply in replies:
            raise_for_status(reply)
        return state.exists

    async def expunge_uid(self, path: str, uid: int, *, uidvalidity: int | None = None) -> None:
        """Delete one message for good: \\Deleted + ``UID EXPUNGE uid`` (needs UIDPLUS)."""
        suid = _uid(uid)
        if not self._conn.has("UIDPLUS"):
            raise ImapUnsupported("uidplus_required")
        await self.select(path, uidvalidity=uidvalidity)
        self._expunging()
        replies = await self._conn.pipeline(
            ("UID STORE", suid, "+FLAGS.SILENT", "(\\Deleted)"), ("UID EXPUNGE", suid)
        )
        for reply in replies:
            self._note(reply, {uid})
            raise_for_status(reply)

    async def append(self, path: str, message: bytes, *, flags: Iterable[str] = ()) -> int | None:
        """APPEND a message; its UID when the server reports APPENDUID (UIDPLUS)."""
        if b"\0" in message:
            raise ValueError("NUL cannot be sent to an IMAP server")
        resp = await self._conn.command(*self._append_head(path, flags), LiteralArg(bytes(message)))
        self._note(resp)
        return _appended_uid(resp)

    async def append_stream(
        self, path: str, size: int, chunks: AsyncIterator[bytes], *, flags: Iterable[str] = ()
    ) -> int | None:
        """APPEND a message of ``size`` bytes streamed from ``chunks`` (never held whole)."""
        resp = await self._conn.command_streaming(self._append_head(path, flags), size, chunks)
        self._note(resp)
        return _appended_uid(resp)

    def _append_head(self, path: str, flags: Iterable[str]) -> list[object]:
        flag_list = list(flags)
        for flag in flag_list:
            if not _FLAG.fullmatch(flag):
                raise ValueError("invalid flag")
        parts: list[object] = ["APPEND", self._mailbox_arg(path)]
        if flag_list:
            parts.append(f"({' '.join(flag_list)})")
        if self._selected and self._selected.path == path:
            self._changed()
        return parts


# At most this many new messages are placed into a kept sorted view (_patched).
_PATCH_MAX = 200


def _without(view: array[int], gone: frozenset[int]) -> array[int]:
    """``view`` without the UIDs in ``gone`` (its order kept)."""
    return array("I", (u for u in view if u not in gone))


def _vanished_uids(u: Untagged) -> set[int] | None:
    """The UIDs of a ``* VANISHED`` response; None when they cannot be read (or name
    a range too large to expand: then the change is treated as unknown)."""
    sets = [t for t in u.data if isinstance(t, str)]
    uids = _expand(sets[-1]) if sets else []
    return set(uids) or None


def _keep_present(view: array[int], present: array[int]) -> array[int]:
    """``view`` without the UIDs not in ``present`` (its order kept)."""
    here = set(present)
    return array("I", (u for u in view if u in here))


# Work on more numbers than this (a mailbox's UIDs) runs in a thread, so the event loop
# keeps its turns while 100,000 UIDs are ordered.
_INLINE_NUMBERS = 5_000


async def _off_loop(size: int, fn: Callable[..., _R], *args: Any) -> _R:
    """``fn(*args)`` inline when ``size`` is small, else in the default executor."""
    if size <= _INLINE_NUMBERS:
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _newest_uids(uids: array[int], count: int) -> list[int]:
    """The ``count`` highest of ``uids``, ascending, each once."""
    return sorted(set(uids))[-count:] if count > 0 else []


def _thread_answer(trees: list[Any], wanted: set[int]) -> list[list[int]]:
    """Each THREAD answer tree as its UIDs among ``wanted``, trees without any left out."""
    out: list[list[int]] = []
    for tree in trees:
        group = [n for n in _numbers(tree) if n in wanted]
        if group:
            out.append(group)
    return out


def _conversation_order(dates: array[int], found: list[list[int]]) -> array[int]:
    """``found`` threads newest first, where a thread's place is that of its newest
    message in ``dates`` (UIDs newest first); encoded ``[count, n1, uids…, n2, uids…]``."""
    index: dict[int, int] = {}
    for i, group in enumerate(found):
        for uid in group:
            index[uid] = i
    out = array("I", [0])
    placed = bytearray(len(found))
    count = 0
    for uid in dates:
        at = index.get(uid)
        if at is None or placed[at]:
            continue
        placed[at] = 1
        out.append(len(found[at]))
        out.extend(found[at])
        count += 1
        if count == len(found):
            break
    for i, group in enumerate(found):  # gone from the date order meanwhile: last
        if not placed[i]:
            out.append(len(group))
            out.extend(group)
            count += 1
    out[0] = count
    return out


def _groups_of(
    view: array[int], offset: int, limit: int | None, holding: int | None
) -> list[list[int]]:
    """Threads of a conversation view: ``limit`` of them from ``offset``, or the one
    whose messages include ``holding``."""
    out: list[list[int]] = []
    pos, n = 1, 0
    while pos < len(view) and (limit is None or len(out) < limit):
        size = view[pos]
        if holding is not None:
            group = view[pos + 1 : pos + 1 + size]
            if holding in group:
                return [group.tolist()]
        elif n >= offset:
            out.append(view[pos + 1 : pos + 1 + size].tolist())
        pos += 1 + size
        n += 1
    return [] if holding is not None else out


def _numbers(tree: Any) -> list[int]:
    """The message numbers of one THREAD answer tree, in order, without recursion."""
    out: list[int] = []
    stack = [tree]
    while stack:
        cur = stack.pop()
        if isinstance(cur, list):
            stack.extend(reversed(cur))
        elif isinstance(cur, str) and cur.isdigit():
            out.append(int(cur))
    return out


def _appended_uid(resp: Response) -> int | None:
    for data in resp.codes("APPENDUID"):
        if len(data) >= 3:
            return _int_or_none(data[2])
    return None


def _header_of(data: bytes) -> bytes | None:
    """The header block (with its blank line) of a message prefix; None if not complete."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = data.find(sep)
        if end >= 0:
            return data[: end + len(sep)]
    return None


def _copied_uid(resp: Response, uid: int) -> int | None:
    """The destination UID for ``uid`` from ``[COPYUID validity src dst]``."""
    for data in resp.codes("COPYUID"):
        if len(data) < 4:
            continue
        src, dst = _expand(text(data[2]) or ""), _expand(text(data[3]) or "")
        if uid in src and len(src) == len(dst):
            return dst[src.index(uid)]
    return None


def _esearch_all(resp: Response) -> str | None:
    """The sequence set of an ESEARCH reply's ``ALL`` (RFC 4731): "" when nothing matched
    (the item is then left out); None when there is no ESEARCH reply or no value."""
    for u in resp.of_kind("ESEARCH"):
        words = [t for t in u.data if isinstance(t, str)]  # the (TAG "…") correlator is a list
        upper = [w.upper() for w in words]
        if "ALL" not in upper:
            return ""
        at = upper.index("ALL") + 1
        return words[at] if at < len(words) else None
    return None


_UID_RANGE = re.compile(r"([0-9]{1,10})(?::([0-9]{1,10}))?")


def _uid_ranges(value: str) -> list[tuple[int, int]] | None:
    """The pieces of the UID set ``value`` as (first, last), in their order and direction
    (``5:3`` stays (5, 3)); None when a piece is not a UID or a range of UIDs."""
    ranges: list[tuple[int, int]] = []
    for piece in value.split(",") if value else []:
        m = _UID_RANGE.fullmatch(piece)
        if m is None:
            return None
        a, b = int(m[1]), int(m[2] or m[1])
        if not (0 < a < 2**32 and 0 < b < 2**32):
            return None
        ranges.append((a, b))
    return ranges


def _newest_in_set(value: str, count: int) -> list[int] | None:
    """The ``count`` highest UIDs of the sequence set ``value``, ascending, each once;
    None when a piece is not a range of UIDs. The ranges are merged, not expanded, so a
    set naming four billion UIDs costs what its text costs."""
    pieces = _uid_ranges(value)
    if pieces is None:
        return None
    merged: list[list[int]] = []
    for a, b in sorted((min(a, b), max(a, b)) for a, b in pieces):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out: list[int] = []
    for a, b in reversed(merged):
        take = min(count - len(out), b - a + 1)
        out.extend(range(b, b - take, -1))
        if len(out) >= count:
            break
    out.reverse()
    return out


def _expand(value: str) -> list[int]:
    """The UIDs of the set ``value`` in its order (COPYUID pairs them by position); empty
    when it cannot be read or a range spans more than 10,000 UIDs."""
    pieces = _uid_ranges(value)
    if not pieces or any(abs(b - a) > 10_000 for a, b in pieces):
        return []
    out: list[int] = []
    for a, b in pieces:
        step = 1 if b >= a else -1
        out.extend(range(a, b + step, step))
    return out


def _preview_source(root: BodyPart) -> BodyPart | None:
    """The part a list preview is read from: the first text/plain part that is not an
    attachment, outside attached messages; None when there is none."""
    stack = [root]
    while stack:
        part = stack.pop(0)
        if part.is_multipart:
            stack[:0] = part.children
            continue
        if part.content_type == "text/plain" and part.disposition != "attachment":
            return part if part.part else None
    return None


def _as_text(data: bytes, charset: str | None) -> str:
    try:
        decoded = data.decode(charset or "utf-8", errors="replace")
    except LookupError:
        decoded = data.decode("utf-8", errors="replace")
    # A character cut by the partial fetch shows as a replacement mark at the very end.
    return decoded.rstrip("\ufffd")
