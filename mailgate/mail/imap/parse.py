"""Parsing of tokenized IMAP data: ENVELOPE, BODYSTRUCTURE, LIST, STATUS, INTERNALDATE.

Input is the token tree from :func:`protocol.tokenize` (atoms ``str``, strings ``bytes``,
NIL ``None``, lists ``list``). Servers differ in details (NIL where a value is expected,
lower-case types, missing extension data), so every field is read leniently.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.header import decode_header, make_header
from typing import Any

from . import utf7

__all__ = [
    "BodyPart",
    "Envelope",
    "ListEntry",
    "decode_words",
    "has_attachments",
    "has_html_body",
    "mailbox_name",
    "parse_bodystructure",
    "parse_date",
    "parse_envelope",
    "parse_internaldate",
    "parse_list",
    "parse_status",
    "text",
]

Address = dict[str, str | None]
_MAX_DEPTH = 48  # deeper MIME nesting is treated as an opaque part
# What a sender can make the event loop parse per message (issue 15): real mail is far below.
_MAX_CHILDREN = 1000
_MAX_ADDRESSES = 200
_MAX_DECODED = 8 * 1024
_NEWLINES = re.compile(r"\r?\n")


def text(tok: Any) -> str | None:
    """A string token as text (8-bit bytes are taken as UTF-8), NIL as None."""
    if tok is None:
        return None
    if isinstance(tok, bytes):
        return tok.decode("utf-8", "replace")
    if isinstance(tok, str):
        return tok
    return None


def _int(tok: Any) -> int:
    try:
        return int(text(tok) or 0)
    except ValueError:
        return 0


def _lower(tok: Any) -> str | None:
    value = text(tok)
    return value.lower() if value is not None else None


def decode_words(value: str | None) -> str | None:
    """Decode RFC 2047 encoded words with the stdlib; unfold line breaks."""
    if value is None:
        return None
    if len(value) > _MAX_DECODED:
        # The stdlib's decoding is quadratic in the number of words; a list needs no more.
        value = value[:_MAX_DECODED]
    if "=?" in value:
        # on a malformed word keep the raw text rather than fail the whole list
        with contextlib.suppress(ValueError, LookupError, UnicodeError):
            value = str(make_header(decode_header(value)))
    if "\n" in value:
        value = _NEWLINES.sub("", value)
    return value


# -- ENVELOPE ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Envelope:
    """RFC 3501 ENVELOPE with decoded text; addresses are ``{"name", "email"}``."""

    date: datetime | None = None
    subject: str | None = None
    from_: list[Address] = field(default_factory=list)
    sender: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    in_reply_to: str | None = None
    message_id: str | None = None


def _addresses(tok: Any) -> list[Address]:
    out: list[Address] = []
    if not isinstance(tok, list):
        return out
    for item in tok[:_MAX_ADDRESSES]:
        if not isinstance(item, list) or len(item) < 4:
            continue
        mailbox, host = text(item[2]), text(item[3])
        if host is None:
            continue  # RFC 3501 group start (mailbox = group name) or group end (NIL)
        email_addr = f"{mailbox}@{host}" if mailbox else host
        out.append({"name": decode_words(text(item[0])) or None, "email": email_addr})
    return out


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date header as a datetime, or None when absent or unparsable."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_envelope(tok: Any) -> Envelope:
    """Parse the 10-element ENVELOPE list; missing fields become empty."""
    if not isinstance(tok, list):
        return Envelope()
    f = list(tok) + [None] * (10 - len(tok))
    return Envelope(
        date=parse_date(text(f[0])),
        subject=decode_words(text(f[1])),
        from_=_addresses(f[2]),
        sender=_addresses(f[3]),
        reply_to=_addresses(f[4]),
        to=_addresses(f[5]),
        cc=_addresses(f[6]),
        bcc=_addresses(f[7]),
        in_reply_to=text(f[8]),
        message_id=text(f[9]),
    )


_INTERNALDATE = re.compile(r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-]\d{4})")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_ZONES: dict[str, timezone] = {}


def parse_internaldate(tok: Any) -> datetime | None:
    """``"17-Jul-1996 02:44:25 -0700"`` (day may be space-padded). Hand-parsed: strptime
    costs ~20 µs per call, which adds up over a page of summaries."""
    value = text(tok)
    m = _INTERNALDATE.fullmatch(value) if value else None
    if m is None:
        return None
    day, month, year, hh, mm, ss, zone = m.groups()
    tz = _ZONES.get(zone)
    if tz is None:
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        tz = _ZONES.setdefault(
            zone, timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))
        )
    try:
        return datetime(
            int(year), _MONTHS[month.lower()], int(day), int(hh), int(mm), int(ss), tzinfo=tz
        )
    except (KeyError, ValueError):
        return None


# -- BODYSTRUCTURE ---------------------------------------------------------------------------


@dataclass(slots=True)
class BodyPart:
    """One node of a BODYSTRUCTURE. ``part`` is the FETCH section number: "" for a root
    multipart, "N.TEXT" for the multipart inside message/rfc822 part N. A message/rfc822
    part carries ``envelope`` and its inner ``body``."""

    part: str
    type: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)
    id: str | None = None
    description: str | None = None
    encoding: str | None = None
    size: int = 0
    lines: int | None = None
    md5: str | None = None
    disposition: str | None = None
    disposition_params: dict[str, str] = field(default_factory=dict)
    language: Any = None
    location: str | None = None
    children: list[BodyPart] = field(default_factory=list)
    envelope: Envelope | None = None
    body: BodyPart | None = None

    @property
    def content_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def is_multipart(self) -> bool:
        return self.type == "multipart"

    @property
    def filename(self) -> str | None:
        """The decoded filename (disposition ``filename``, else type ``name``)."""
        return self.disposition_params.get("filename") or self.params.get("name")

    @property
    def charset(self) -> str | None:
        return self.params.get("charset")

    def walk(self) -> Iterator[BodyPart]:
        """This part and all descendants, depth first (into message/rfc822 bodies too)."""
        yield self
        for child in self.children:
            yield from child.walk()
        if self.body is not None:
            yield from self.body.walk()


def _params(tok: Any) -> dict[str, str]:
    """Parameter list → dict with lower-case keys, RFC 2231 and RFC 2047 decoded."""
    if not isinstance(tok, list):
        return {}
    it = iter(tok)
    pairs = [(text(k) or "", text(v) or "") for k, v in zip(it, it, strict=False)]
    if any("*" in k for k, _ in pairs):
        decoded: dict[str, str] = {}
        quoted = [("", "")] + [(k.lower(), '"' + v.replace('"', "") + '"') for k, v in pairs]
        for key, value in email.utils.decode_params(quoted)[1:]:
            plain = email.utils.unquote(email.utils.collapse_rfc2231_value(value))
            decoded[key] = decode_words(plain) or ""
        return decoded
    return {k.lower(): decode_words(v) or "" for k, v in pairs}


def _disposition(tok: Any) -> tuple[str | None, dict[str, str]]:
    if isinstance(tok, list) and tok:
        return _lower(tok[0]), _params(tok[1] if len(tok) > 1 else None)
    if isinstance(tok, bytes | str):
        # Some servers (pymap) send the raw header value, e.g. 'attachment; filename="a.pdf"':
        # read it with the email package's header parser rather than by hand.
        raw = tok.decode("utf-8", "replace") if isinstance(tok, bytes) else tok
        if ";" not in raw:
            return _lower(tok), {}
        from email.headerregistry import ContentDispositionHeader, HeaderRegistry

        try:
            header = HeaderRegistry()("content-disposition", raw)
            assert isinstance(header, ContentDispositionHeader)  # the registry's class for it
            params = {k.lower(): str(v) for k, v in header.params.items()}
            return (header.content_disposition or "").lower() or None, params
        except Exception:  # a malformed header is no disposition
            return raw.split(";", 1)[0].strip().lower() or None, {}
    return None, {}


def _join(prefix: str, n: int) -> str:
    return f"{prefix}.{n}" if prefix else str(n)


def _parse(tok: list[Any], number: str, depth: int, prefix: str | None = None) -> BodyPart:
    if depth > _MAX_DEPTH:
        return BodyPart(part=number or "1", type="application", subtype="octet-stream")
    if tok and isinstance(tok[0], list):
        i = 0
        while i < len(tok) and isinstance(tok[i], list):
            i += 1
        base = number if prefix is None else prefix
        shown = tok[: min(i, _MAX_CHILDREN)]  # parts past these are left out, not parsed
        children = [_parse(c, _join(base, n), depth + 1) for n, c in enumerate(shown, 1)]
        ext = tok[i + 1 :]
        disposition, dparams = _disposition(ext[1] if len(ext) > 1 else None)
        return BodyPart(
            part=number,
            type="multipart",
            subtype=(_lower(tok[i]) if i < len(tok) else None) or "mixed",
            params=_params(ext[0] if ext else None),
            disposition=disposition,
            disposition_params=dparams,
            language=ext[2] if len(ext) > 2 else None,
            location=text(ext[3]) if len(ext) > 3 else None,
            children=children,
        )
    f = list(tok) + [None] * max(0, 7 - len(tok))
    part = BodyPart(
        part=number or "1",
        type=_lower(f[0]) or "text",
        subtype=_lower(f[1]) or "plain",
        params=_params(f[2]),
        id=text(f[3]),
        description=decode_words(text(f[4])),
        encoding=_lower(f[5]) or "7bit",
        size=_int(f[6]),
    )
    i = 7
    if (
        part.type == "message"
        and part.subtype in ("rfc822", "global")
        and len(f) > 9
        and isinstance(f[8], list)
    ):
        part.envelope = parse_envelope(f[7])
        inner = f[8]
        inner_multipart = bool(inner) and isinstance(inner[0], list)
        # an encapsulated multipart has no number of its own: its content is "N.TEXT" and
        # its children are N.1, N.2…; a single-part body is N.1
        if inner_multipart:
            part.body = _parse(inner, f"{part.part}.TEXT", depth + 1, prefix=part.part)
        else:
            part.body = _parse(inner, _join(part.part, 1), depth + 1)
        part.lines = _int(f[9])
        i = 10
    elif part.type == "text" and len(f) > 7:
        part.lines = _int(f[7])
        i = 8
    ext = f[i:]
    part.md5 = text(ext[0]) if ext else None
    part.disposition, part.disposition_params = _disposition(ext[1] if len(ext) > 1 else None)
    part.language = ext[2] if len(ext) > 2 else None
    part.location = text(ext[3]) if len(ext) > 3 else None
    return part


def parse_bodystructure(tok: Any) -> BodyPart:
    """Parse a BODYSTRUCTURE (or BODY) list into a :class:`BodyPart` tree."""
    if not isinstance(tok, list) or not tok:
        return BodyPart(part="1", type="text", subtype="plain")
    return _parse(tok, "" if isinstance(tok[0], list) else "1", 0)


def has_attachments(root: BodyPart) -> bool:
    """True if any part is an attachment: disposition attachment, a named non-inline part,
    or an attached message."""
    for part in root.walk():
        if part.is_multipart:
            continue
        if part.disposition == "attachment":
            return True
        if part is not root and part.type == "message" and part.subtype in ("rfc822", "global"):
            return True
        if part.filename and part.disposition != "inline":
            return True
    return False


# As far as mailgate.mail.mime_read walks a message's parts.
_HTML_MAX_DEPTH = 64
_HTML_MAX_PARTS = 2000


def has_html_body(root: BodyPart) -> bool:
    """True if the message has an HTML body, chosen as ``mime_read`` chooses it: a
    ``text/html`` leaf (an attached message is a leaf, not looked into) that is not
    an attachment (disposition ``attachment``) and has no filename."""
    stack: list[tuple[BodyPart, int]] = [(root, 0)]
    leaves = 0
    while stack and leaves < _HTML_MAX_PARTS:
        part, depth = stack.pop()
        if part.is_multipart:
            if depth < _HTML_MAX_DEPTH:
                stack.extend((child, depth + 1) for child in reversed(part.children))
            continue
        leaves += 1
        if (
            part.type == "text"
            and part.subtype == "html"
            and (part.disposition or "").lower() != "attachment"
            and not part.filename
        ):
            return True
    return False


# -- LIST / STATUS -------------------------------------------------------------------------------


@dataclass(slots=True)
class ListEntry:
    """One LIST reply: ``path`` decoded from modified UTF-7, ``raw`` as sent on the wire."""

    raw: str
    path: str
    delimiter: str | None
    flags: frozenset[str]
    extended: Any = None


def mailbox_name(tok: Any) -> tuple[str, str]:
    """(wire name, decoded name). Invalid modified UTF-7 (or raw UTF-8) is kept as is."""
    raw = text(tok) or ""
    if raw.upper() == "INBOX":
        return raw, "INBOX"
    try:
        return raw, utf7.decode(raw)
    except ValueError:
        return raw, raw


def parse_list(data: list[Any]) -> ListEntry:
    """``(flags) "delim" name [extended]`` from an untagged LIST."""
    flags_tok = data[0] if data and isinstance(data[0], list) else []
    delimiter = text(data[1]) if len(data) > 1 else None
    raw, path = mailbox_name(data[2] if len(data) > 2 else None)
    flags = frozenset(text(f) or "" for f in flags_tok)
    return ListEntry(raw, path, delimiter or None, flags, data[3] if len(data) > 3 else None)


def parse_status(data: list[Any]) -> tuple[str, dict[str, int]]:
    """``name (MESSAGES 3 UNSEEN 1 …)`` → (wire name, {"MESSAGES": 3, …})."""
    raw = text(data[0]) if data else ""
    items = data[1] if len(data) > 1 and isinstance(data[1], list) else []
    it = iter(items)
    return raw or "", {(text(k) or "").upper(): _int(v) for k, v in zip(it, it, strict=False)}
