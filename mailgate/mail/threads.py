"""Threading messages into conversations: RFC 5256's REFERENCES algorithm, pure.

`thread(heads)` takes what threading needs of each message (`Head`: Message-ID, the
References chain, subject, sent date) under any key the caller chooses and answers the
threads as trees of those keys, the way a server answers ``THREAD REFERENCES`` (RFC 5256
section 4): link by references (never making a loop), drop or promote the placeholder
("dummy") containers of messages we do not have, then gather the top-level threads whose
base subjects match (section 2.1), and sort siblings by sent date.

`parse_head` reads the header fields ``BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO
REFERENCES SUBJECT DATE)]`` returns, with the standard library's parser.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

__all__ = ["Head", "Node", "base_subject", "flatten", "groups", "parse_head", "thread"]

K = TypeVar("K", bound=Hashable)

# Bounds on what one message can make us keep: hostile headers stay small in memory.
_MAX_REFS = 64
_MAX_ID = 250
_MAX_SUBJECT = 500
_MSG_ID = re.compile(r"<([^<>\s]{1,250})>")

_WSP = re.compile(r"[ \t\r\n]+")
_TRAILER = re.compile(r"(?:\s|\(fwd\))+$", re.I)
_BLOB = r"\[[^\[\]]*\]\s*"
_LEADER = re.compile(rf"^(?:(?:{_BLOB})*(?:re|fwd?)\s*(?:{_BLOB})?:|\s+)", re.I)
_BLOB_PREFIX = re.compile(rf"^{_BLOB}")


@dataclass(frozen=True, slots=True)
class Head:
    """What threading needs of one message; ``references`` oldest first."""

    message_id: str | None
    references: tuple[str, ...]
    subject: str
    date: float


@dataclass(slots=True)
class Node(Generic[K]):
    """A thread's tree: ``key`` is None for a placeholder of a message we do not have."""

    key: K | None
    children: list[Node[K]] = field(default_factory=list)


def flatten(node: Node[K]) -> list[K]:
    """Every key of a thread, depth first (the order of the server's THREAD answer)."""
    out: list[K] = []
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.key is not None:
            out.append(cur.key)
        stack.extend(reversed(cur.children))
    return out


def _ids(value: str | None) -> list[str]:
    return _MSG_ID.findall(value or "")


def _decoded(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return value


def parse_head(fields: bytes | None, fallback_date: float = 0.0) -> Head:
    """A `Head` from the raw header fields; the date falls back to ``fallback_date``
    (INTERNALDATE) as RFC 5256 says."""
    msg = BytesHeaderParser(policy=compat32).parsebytes(fields or b"")
    mids = _ids(msg.get("Message-ID"))
    refs = _ids(msg.get("References"))
    if not refs:
        refs = _ids(msg.get("In-Reply-To"))[:1]
    date = fallback_date
    raw_date = msg.get("Date")
    if raw_date:
        try:
            parsed = parsedate_to_datetime(" ".join(str(raw_date).split()))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            date = parsed.timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    subject = _decoded(msg.get("Subject"))[:_MAX_SUBJECT]
    return Head(
        message_id=mids[0] if mids else None,
        references=tuple(refs[-_MAX_REFS:]),
        subject=subject,
        date=date,
    )


def base_subject(subject: str) -> tuple[str, bool]:
    """RFC 5256 section 2.1: the base subject (case folded for comparing) and whether a
    reply or forward marker was removed on the way."""
    s = _WSP.sub(" ", subject).strip()
    refwd = False
    while True:
        trimmed = _TRAILER.sub("", s)
        if trimmed != s:
            refwd = refwd or "(fwd)" in s[len(trimmed) :].lower()
            s = trimmed
        while True:  # steps 3-5
            found = _LEADER.match(s)
            if found:
                refwd = refwd or not found.group(0).isspace()
                s = s[found.end() :]
                continue
            blob = _BLOB_PREFIX.match(s)
            if blob and s[blob.end() :].strip():
                s = s[blob.end() :]
                continue
            break
        if s[:5].lower() == "[fwd:" and s.endswith("]"):  # step 6
            s = s[5:-1]
            refwd = True
            continue
        return s.strip().casefold(), refwd


class _C:
    __slots__ = ("children", "head", "key", "order", "parent")

    def __init__(self) -> None:
        self.key: Hashable | None = None
        self.head: Head | None = None
        self.order = -1
        self.parent: _C | None = None
        self.children: list[_C] = []


def _ancestor(a: _C, b: _C) -> bool:
    """Whether ``a`` is ``b`` or one of ``b``'s ancestors (linking b -> a would loop)."""
    cur: _C | None = b
    while cur is not None:
        if cur is a:
            return True
        cur = cur.parent
    return False


def _link(parent: _C, child: _C) -> None:
    child.parent = parent
    parent.children.append(child)


def _unlink(child: _C) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
        child.parent = None


def _prune(roots: list[_C]) -> list[_C]:
    """Section 4 step 3, bottom-up without recursion: placeholders with no children go;
    below the top, a placeholder's children take its place; at the top only a single
    child does (promoting several would split the thread)."""
    nodes: list[_C] = []
    stack = list(roots)
    while stack:
        cur = stack.pop()
        nodes.append(cur)
        stack.extend(cur.children)
    for cur in reversed(nodes):  # children are pruned before their parent
        kept: list[_C] = []
        for child in cur.children:
            if child.key is None:
                kept.extend(child.children)
            else:
                kept.append(child)
        for child in kept:
            child.parent = cur
        cur.children = kept
    out: list[_C] = []
    for r in roots:
        if r.key is None and len(r.children) <= 1:
            out.extend(r.children)
        else:
            out.append(r)
    for r in out:
        r.parent = None
    return out


def _date(c: _C) -> tuple[float, int]:
    if c.head is not None:
        return (c.head.date, c.order)
    return _date(c.children[0]) if c.children else (0.0, -1)


def _sort(c: _C) -> None:
    """Sort every sibling list by sent date, deepest first (a placeholder's date is its
    first child's, so its children are sorted before it is compared)."""
    nodes: list[_C] = []
    stack = [c]
    while stack:
        cur = stack.pop()
        nodes.append(cur)
        stack.extend(cur.children)
    for cur in reversed(nodes):
        cur.children.sort(key=_date)


def _subject_of(c: _C) -> tuple[str, bool]:
    msg = c if c.head is not None else (c.children[0] if c.children else None)
    if msg is None or msg.head is None:
        return "", False
    return base_subject(msg.head.subject)


def _group_by_subject(roots: list[_C]) -> list[_C]:
    table: dict[str, _C] = {}
    reply: dict[int, bool] = {}
    for r in roots:
        base, is_reply = _subject_of(r)
        reply[id(r)] = is_reply
        if not base:
            continue
        old = table.get(base)
        if old is None or (
            old.key is not None and (r.key is None or (reply[id(old)] and not is_reply))
        ):
            table[base] = r
    absorbed: set[int] = set()
    replaced: dict[int, _C] = {}
    for r in roots:
        if id(r) in absorbed:
            continue
        base, _ = _subject_of(r)
        if not base:
            continue
        t = table[base]
        if t is r:
            continue
        absorbed.add(id(r))
        if t.key is None and r.key is None:
            for child in r.children:
                _link(t, child)
            r.children = []
        elif t.key is None or (reply[id(r)] and not reply[id(t)]):
            _link(t, r)
        else:
            dummy = _C()
            _link(dummy, t)
            _link(dummy, r)
            replaced[id(t)] = dummy
            absorbed.add(id(t))
            table[base] = dummy
    out: list[_C] = []
    for r in roots:
        if id(r) in replaced:
            out.append(replaced[id(r)])
        elif id(r) not in absorbed:
            out.append(r)
    return out


def thread(heads: Iterable[tuple[K, Head]]) -> list[Node[K]]:
    """RFC 5256 REFERENCES threading of ``(key, head)`` pairs (in the order the server
    would number them: ties in date go to the earlier one). Threads come oldest first."""
    table: dict[str, _C] = {}
    unnamed: list[_C] = []
    for order, (key, head) in enumerate(heads):
        mid = head.message_id
        c = table.get(mid) if mid else None
        if c is None or c.head is not None:
            # No Message-ID, or one we saw already: a message of its own (section 4, 1A).
            c = _C()
            if mid and mid not in table:
                table[mid] = c
            else:
                unnamed.append(c)
        c.key, c.head, c.order = key, head, order
        prev: _C | None = None
        for ref in head.references:
            rc = table.get(ref)
            if rc is None:
                rc = table[ref] = _C()
            if prev is not None and rc.parent is None and not _ancestor(rc, prev):
                _link(prev, rc)
            prev = rc
        if prev is not None and _ancestor(c, prev):
            prev = None  # a reference to itself or to a reply of its own: no loop
        if c.parent is not prev:
            _unlink(c)
            if prev is not None:
                _link(prev, c)
    roots = [c for c in (*table.values(), *unnamed) if c.parent is None]
    roots = _prune(roots)
    for r in roots:
        _sort(r)
    roots.sort(key=_date)
    roots = _group_by_subject(roots)
    for r in roots:
        _sort(r)
    roots.sort(key=_date)
    return [_node(r) for r in roots]


def _node(c: _C) -> Node[Any]:
    # The keys are the caller's K, held as Hashable inside the algorithm.
    root: Node[Any] = Node(c.key)
    stack: list[tuple[_C, Node[Any]]] = [(c, root)]
    while stack:
        cur, node = stack.pop()
        for child in cur.children:
            sub: Node[Any] = Node(child.key)
            node.children.append(sub)
            stack.append((child, sub))
    return root


def groups(trees: Sequence[Node[K]]) -> list[list[K]]:
    """Each thread as the list of its keys."""
    return [flatten(t) for t in trees]
