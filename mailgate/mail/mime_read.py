"""Reading received messages: headers, the text and HTML bodies, and the attachment list.

Nothing here raises on malformed input: a header that cannot be decoded becomes its raw
text with bad bytes replaced, a part that cannot be decoded is left out of the text but
still listed as an attachment.

Part numbers are IMAP section numbers (RFC 3501 §6.4.5), so the API can fetch a part from
the server with ``BODY[<part>]`` and the same number means the same part here:

- a message that is not multipart has one part, its body, numbered ``"1"``;
- the children of a multipart are numbered ``1..n``, and a multipart nested inside part
  ``2`` has children ``"2.1"``, ``"2.2"`` …;
- a ``message/rfc822`` part is listed as one attachment (we do not descend into it); its
  own body parts would be ``"<n>.1"`` … and :func:`extract_part` accepts those too.
"""

from __future__ import annotations

import codecs
import mimetypes
import re
import unicodedata
from base64 import b64decode
from binascii import Error as BinasciiError
from dataclasses import dataclass, field
from datetime import UTC
from email import policy
from email.generator import BytesGenerator
from email.headerregistry import HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime
from io import BytesIO
from quopri import decodestring as qp_decode
from typing import Any, TypedDict

__all__ = [
    "AttachmentInfo",
    "MessageView",
    "ParsedAddress",
    "decode_bytes",
    "extract_part",
    "header_text",
    "parse_addresses",
    "parse_message",
    "preview",
    "safe_filename",
]


@dataclass
class AttachmentInfo:
    """One attachment (or inline part) of a message, addressed by its IMAP section number."""

    part: str
    filename: str
    content_type: str
    size: int
    inline: bool
    content_id: str | None


class ParsedAddress(TypedDict):
    """One address of an address header: the display name ("" when none) and the address."""

    name: str
    email: str


@dataclass
class MessageView:
    """A parsed message; ``html`` is the raw HTML body, NOT sanitized."""

    subject: str = ""
    from_: list[ParsedAddress] = field(default_factory=list)
    to: list[ParsedAddress] = field(default_factory=list)
    cc: list[ParsedAddress] = field(default_factory=list)
    bcc: list[ParsedAddress] = field(default_factory=list)
    reply_to: list[ParsedAddress] = field(default_factory=list)
    # Every Delivered-To the receiving servers added (which of one's addresses got it).
    delivered_to: list[ParsedAddress] = field(default_factory=list)
    # Disposition-Notification-To: where the sender asks a read receipt to go (RFC 8098).
    receipt_to: list[ParsedAddress] = field(default_factory=list)
    date: str | None = None
    message_id_header: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    # A draft of a forward saved here: the Message-ID of what it forwards (the
    # X-Mailgate-Forward-Of header, mailgate/mail/compose.py FORWARD_OF_HEADER).
    forward_of: str | None = None
    text: str | None = None
    html: str | None = None
    attachments: list[AttachmentInfo] = field(default_factory=list)


# Nesting deeper than this is not walked (no real mail needs it; torture tests do).
_MAX_DEPTH = 64
_MAX_PARTS = 2000

# WHATWG-style aliases: labels mail clients use for a superset charset.
_CHARSET_ALIASES = {
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}


def _codec(charset: str | None) -> str | None:
    """A Python text codec for a MIME charset label, or None when unknown."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    label = label.split("*", 1)[0]  # RFC 2231 language suffix
    label = _CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    # Only real text codecs; "base64", "rot13", "zlib" … are codecs too.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _is_ascii_label(charset: str | None) -> bool:
    label = (charset or "").strip().strip("\"'").lower()
    return label in ("us-ascii", "ascii", "ansi_x3.4-1968")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode ``data`` in ``charset``, falling back to UTF-8, then to lossy decoding."""
    codec = _codec(charset)
    # 8-bit text labelled US-ASCII is nearly always UTF-8 in practice: try that first.
    first = ("utf-8", codec) if codec and _is_ascii_label(charset) else (codec, "utf-8")
    for candidate in first:
        if candidate is None:
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    if codec is not None:
        try:
            return data.decode(codec, errors="replace")
        except (LookupError, ValueError):
            pass
    # Unknown charset and not UTF-8: latin-1 keeps every byte visible.
    return data.decode("latin-1")


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _raw_to_str(value: str) -> str:
    """Turn a raw header (8-bit bytes surrogate-escaped by the parser) into clean text."""
    if _ESCAPED_BYTE.search(value):
        data = value.encode("utf-8", "surrogateescape")
        return decode_bytes(data, None)  # RFC 6532 UTF-8, else legacy 8-bit
    return value


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _decode_word(encoding: str, text: str) -> bytes:
    if encoding.lower() == "b":
        text = re.sub(r"[^A-Za-z0-9+/]", "", text)
        text += "=" * (-len(text) % 4)
        try:
            return b64decode(text)
        except (BinasciiError, ValueError):
            return text.encode("ascii", "replace")
    return qp_decode(text.replace("_", " ").encode("ascii", "replace"), header=True)


def header_text(value: object) -> str:
    """Decode a header value (RFC 2047 words, 8-bit bytes, bad charsets) to clean text.

    Never raises: undecodable pieces are kept as text with bad bytes replaced.
    """
    if value is None:
        return ""
    try:
        text = _FOLD.sub("", _raw_to_str(str(value)))
        pieces: list[str] = []
        pending: list[tuple[str, bytes]] = []  # adjacent encoded words, joined per charset
        pos = 0

        def flush() -> None:
            for charset, data in pending:
                pieces.append(decode_bytes(data, charset))
            pending.clear()

        for match in _ENCODED_WORD.finditer(text):
            between = text[pos : match.start()]
            if between.strip() or not pending:
                flush()
                pieces.append(between)
            # Whitespace between two encoded words is dropped (RFC 2047 §6.2).
            charset = match.group(1)
            data = _decode_word(match.group(2), match.group(3))
            if pending and pending[-1][0].lower() == charset.lower():
                # Multi-byte characters may be split across words: join bytes first.
                pending[-1] = (pending[-1][0], pending[-1][1] + data)
            else:
                pending.append((charset, data))
            pos = match.end()
        flush()
        pieces.append(text[pos:])
        result = "".join(pieces)
    except Exception:  # a last resort: header decoding must never break reading
        result = str(value).encode("utf-8", "replace").decode("utf-8", "replace")
    return _BAD_TEXT.sub("\ufffd", result).replace("\r", "").replace("\n", " ").strip()


def parse_addresses(value: object) -> list[ParsedAddress]:
    """Parse an address header into ``[{"name", "email"}]``; garbage yields what it can."""
    if value is None:
        return []
    try:
        raw = _FOLD.sub("", _raw_to_str(str(value)))
        pairs = getaddresses([raw])
    except Exception:
        return []
    result: list[ParsedAddress] = []
    for name, email in pairs:
        email = header_text(email)
        if not email:
            continue
        result.append({"name": header_text(name), "email": email})
    return result


_LINE_BREAKS = str.maketrans("\t\n\r", "   ")


def _preview_line(text: str) -> str:
    if not text.translate(_LINE_BREAKS).isprintable():
        # Some control, format, private-use or unassigned character (or an unusual space):
        # drop the invisible ones one by one (rare; the common case needs no such walk).
        text = "".join(
            ch
            for ch in text
            if ch in "\t\n\r " or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
        )
    return " ".join(text.replace("\u034f", "").split())


def preview(text: str, limit: int = 200) -> str:
    """A one-line preview: whitespace collapsed, invisible characters removed, at most
    ``limit`` characters (ending with "…" when cut)."""
    if not text:
        return ""
    # The line of a prefix of the text is a prefix of the whole text's line, so once a
    # prefix gives more than `limit` characters the rest cannot change the preview: look
    # at growing prefixes rather than at every character of a long body (~130 ms per MB).
    size = max(4 * limit, 1024)
    while True:
        line = _preview_line(text[:size])
        if len(line) > limit or size >= len(text):
            break
        size *= 4
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)].rstrip() + "…"


_PATH_SEPARATORS = re.compile(r"[/\\]")
_UNSAFE_FILENAME = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com\d|lpt\d)(\..*)?", re.I)
_MAX_FILENAME = 200


def _default_filename(content_type: str) -> str:
    content_type = (content_type or "").lower()
    if content_type.startswith("message/"):
        return "message.eml"
    if content_type == "text/plain":
        return "attachment.txt"
    ext = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    stem = "image" if content_type.startswith("image/") else "attachment"
    return stem + ext


def safe_filename(name: str | None, content_type: str) -> str:
    """A filename safe to show and to offer for download (no path, no controls, ≤ 200)."""
    if name:
        name = _PATH_SEPARATORS.split(str(name))[-1]
        name = "".join(
            ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl")
        )
        name = _UNSAFE_FILENAME.sub("_", name)
        name = " ".join(name.split()).strip(". ")
        if _WINDOWS_RESERVED.fullmatch(name):
            name = "_" + name
    if not name:
        return _default_filename(content_type)
    if len(name) > _MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16:
            name = stem[: _MAX_FILENAME - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            name = name[:_MAX_FILENAME]
    return name


def _raw_header(msg: Message, name: str) -> str | None:
    """The raw (undecoded) value of the first ``name`` header, without the policy's parsing."""
    try:
        for key, value in msg.raw_items():
            if key.lower() == name:
                return str(value)
    except Exception:
        return None
    return None


# More Delivered-To fields than this are not read (a loop adds one per hop).
_MAX_DELIVERED_TO = 10


def _all_raw_headers(msg: Message, name: str) -> list[str]:
    """The raw values of every ``name`` header, at most _MAX_DELIVERED_TO."""
    try:
        found = [str(v) for k, v in msg.raw_items() if k.lower() == name]
    except Exception:
        return []
    return found[:_MAX_DELIVERED_TO]


def _header_param(msg: Message, header: str, param: str) -> str | None:
    raw = _raw_header(msg, header)
    if raw is None:
        return None
    try:
        # compat32 parameter parsing handles RFC 2231 continuations and charsets.
        probe = Message()
        probe[header] = _raw_to_str(_FOLD.sub("", raw))
        value = probe.get_param(param, header=header)
        if isinstance(value, tuple):
            charset, _lang, text = value
            # compat32 has already %-decoded the value into latin-1 code points.
            data = text.encode("latin-1", "replace") if isinstance(text, str) else bytes(text)
            return decode_bytes(data, charset or "utf-8")
        return None if value is None else str(value)
    except Exception:
        return None


def _content_type(part: Message) -> str:
    try:
        content_type = part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"
    if content_type.startswith("multipart/") and not part.is_multipart():
        # A multipart whose boundary is missing or never found: its body is plain text.
        return "text/plain"
    return content_type


def _disposition(part: Message) -> str | None:
    raw = _raw_header(part, "content-disposition")
    if raw is None:
        return None
    return _raw_to_str(raw).split(";", 1)[0].strip().lower() or None


def _content_id(part: Message) -> str | None:
    raw = _raw_header(part, "content-id")
    if raw is None:
        return None
    cid = header_text(raw).strip().strip("<>").strip()
    return cid or None


def _filename(part: Message) -> str | None:
    name = _header_param(part, "content-disposition", "filename") or _header_param(
        part, "content-type", "name"
    )
    return header_text(name) if name else None


_MESSAGE_TYPES = ("message/rfc822", "message/global")


def _is_multipart(part: Message) -> bool:
    return _content_type(part).startswith("multipart/")


def _children(part: Message) -> list[Message]:
    if not part.is_multipart():
        return []
    return [p for p in part.get_payload() if isinstance(p, Message)]


def _flatten(msg: Message) -> bytes:
    buf = BytesIO()
    gen = BytesGenerator(buf, mangle_from_=False, policy=policy.compat32.clone(linesep="\r\n"))
    gen.flatten(msg)
    return buf.getvalue()


def _payload_bytes(part: Message) -> bytes:
    """The decoded body of a leaf part (a whole encapsulated message for message/*)."""
    if part.is_multipart():
        inner = _children(part)
        if _content_type(part) in _MESSAGE_TYPES and len(inner) == 1:
            return _flatten(inner[0])
        whole = _flatten(part)
        if not part.keys():
            return whole[2:] if whole.startswith(b"\r\n") else whole
        cut = whole.find(b"\r\n\r\n")
        return whole[cut + 4 :] if cut >= 0 else b""
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _walk(msg: Message) -> list[tuple[str, Message]]:
    """Leaf parts with their IMAP section numbers, in order; message/* parts are leaves."""
    if not _is_multipart(msg):
        return [("1", msg)]
    leaves: list[tuple[str, Message]] = []
    stack: list[tuple[str, Message, int]] = [
        (str(i), child, 1) for i, child in enumerate(_children(msg), 1)
    ]
    stack.reverse()
    while stack and len(leaves) < _MAX_PARTS:
        number, part, depth = stack.pop()
        if _is_multipart(part):
            if depth < _MAX_DEPTH:
                kids = [(f"{number}.{i}", c, depth + 1) for i, c in enumerate(_children(part), 1)]
                stack.extend(reversed(kids))
            continue
        leaves.append((number, part))
    return leaves


def _resolve(msg: Message, section: str) -> Message | None:
    """The part with IMAP section number ``section``, or None."""
    if not re.fullmatch(r"[1-9]\d{0,5}(\.[1-9]\d{0,5}){0,63}", section):
        return None
    node: Message = msg
    body: Message | None = msg  # whose parts the next number counts
    body_is_message = True  # the root, and the body of a message/rfc822 part, are messages
    for index in (int(n) for n in section.split(".")):
        if body is None:
            return None
        if _is_multipart(body):
            kids = _children(body)
            if index > len(kids):
                return None
            node = kids[index - 1]
        elif body_is_message and index == 1:
            node = body  # a non-multipart message has one part: its body
        else:
            return None
        inner = _children(node) if node is not body else []
        if _content_type(node) in _MESSAGE_TYPES and len(inner) == 1:
            body, body_is_message = inner[0], True
        elif _is_multipart(node) and node is not body:
            body, body_is_message = node, False
        else:
            body = None
    return node


def _is_body_candidate(part: Message) -> bool:
    return _disposition(part) != "attachment" and _filename(part) is None


def _text_of(part: Message, data: bytes) -> str | None:
    try:
        text = decode_bytes(data, _header_param(part, "content-type", "charset"))
    except Exception:
        return None
    return text.replace("\r\n", "\n")


def _info(number: str, part: Message, data: bytes, html_lower: str) -> AttachmentInfo:
    content_type = _content_type(part)
    cid = _content_id(part)
    referenced = bool(cid and ("cid:" + cid.lower()) in html_lower)
    return AttachmentInfo(
        part=number,
        filename=safe_filename(_filename(part), content_type),
        content_type=content_type,
        size=len(data),
        inline=_disposition(part) == "inline" or referenced,
        content_id=cid,
    )


class _HeaderClasses(HeaderRegistry):
    """``policy.default``'s header registry, except that it builds each header class once:
    the standard one makes a new class with ``type()`` for every header it parses. Kept
    per specialised class (a handful), so arbitrary header names cannot grow it."""

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[type, type] = {}

    def __getitem__(self, name: str) -> type:
        cls = self.registry.get(name.lower(), self.default_class)
        built = self._built.get(cls)
        if built is None:
            built = self._built[cls] = super().__getitem__(name)
        return built


_HEADER_CLASSES = _HeaderClasses()


class _OneMessagePolicy(EmailPolicy):
    """``policy.default``, except that each header value is parsed once per message.

    The parser and our reading ask for Content-Type again and again (every
    get_content_type() re-runs the header parser); header objects are immutable, so the
    first result is reused. The memo lives in this message's own policy instance, so
    nothing of one message outlives it or reaches another.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        memo: dict[tuple[str, str], Any] = self.__dict__["_memo"]
        key = (name, value)
        found = memo.get(key)
        if found is None:
            found = memo[key] = super().header_fetch_parse(name, value)
        return found


def _one_message_policy() -> EmailPolicy:
    fresh = _OneMessagePolicy(header_factory=_HEADER_CLASSES)
    object.__setattr__(fresh, "_memo", {})  # policies are frozen; this is our own slot
    return fresh


def _parse(raw: bytes) -> Message | None:
    try:
        return BytesParser(policy=_one_message_policy()).parsebytes(raw)
    except Exception:
        return None


def _date(msg: Message) -> str | None:
    raw = _raw_header(msg, "date")
    if not raw:
        return None
    try:
        parsed = parsedate_to_datetime(header_text(raw))
    except Exception:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


_MSG_ID = re.compile(r"<[^<>\s]+>")


def _view(msg: Message) -> tuple[MessageView, list[tuple[str, Message, bytes]]]:
    view = MessageView()
    view.subject = header_text(_raw_header(msg, "subject"))
    view.from_ = parse_addresses(_raw_header(msg, "from"))
    view.to = parse_addresses(_raw_header(msg, "to"))
    view.cc = parse_addresses(_raw_header(msg, "cc"))
    view.bcc = parse_addresses(_raw_header(msg, "bcc"))
    view.reply_to = parse_addresses(_raw_header(msg, "reply-to"))
    for value in _all_raw_headers(msg, "delivered-to"):
        view.delivered_to.extend(parse_addresses(value))
    view.receipt_to = parse_addresses(_raw_header(msg, "disposition-notification-to"))
    view.date = _date(msg)
    view.message_id_header = header_text(_raw_header(msg, "message-id")) or None
    in_reply_to = header_text(_raw_header(msg, "in-reply-to"))
    ids = _MSG_ID.findall(in_reply_to)
    view.in_reply_to = ids[0] if ids else (in_reply_to or None)
    references = header_text(_raw_header(msg, "references"))
    view.references = _MSG_ID.findall(references) or references.split()
    forwarded = _MSG_ID.findall(header_text(_raw_header(msg, "x-mailgate-forward-of")))
    view.forward_of = forwarded[0] if forwarded else None

    text_part = html_part = None
    leaves: list[tuple[str, Message, bytes]] = []
    for number, part in _walk(msg):
        try:
            data = _payload_bytes(part)
        except Exception:
            data = b""
        content_type = _content_type(part)
        if content_type in ("text/plain", "text/html") and _is_body_candidate(part):
            decoded = _text_of(part, data)
            if decoded is not None:
                if content_type == "text/plain" and text_part is None:
                    text_part, view.text = part, decoded
                elif content_type == "text/html" and html_part is None:
                    html_part, view.html = part, decoded
        leaves.append((number, part, data))
    html_lower = (view.html or "").lower()
    for number, part, data in leaves:
        if part is text_part or part is html_part:
            continue
        view.attachments.append(_info(number, part, data, html_lower))
    return view, leaves


def _without_bom(raw: bytes) -> bytes:
    """A UTF-8 byte-order mark before the first header is not part of its name."""
    return raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw


def parse_message(raw: bytes) -> MessageView:
    """Parse a raw RFC 5322 message into a :class:`MessageView`; never raises."""
    msg = _parse(_without_bom(raw))
    if msg is None:
        return MessageView()
    try:
        return _view(msg)[0]
    except Exception:  # defensive: malformed input degrades to an empty view
        return MessageView(subject=header_text(_raw_header(msg, "subject")))


def extract_part(raw: bytes, part: str) -> tuple[AttachmentInfo, bytes] | None:
    """The attachment info and decoded payload of IMAP section ``part``, or None."""
    msg = _parse(_without_bom(raw))
    if msg is None:
        return None
    try:
        view, leaves = _view(msg)
        for number, node, data in leaves:
            if number == part:
                return _info(number, node, data, (view.html or "").lower()), data
        # Not a listed leaf (e.g. a part inside an attached message): resolve it directly.
        found = _resolve(msg, part)
        if found is None or _is_multipart(found):
            return None
        data = _payload_bytes(found)
        return _info(part, found, data, (view.html or "").lower()), data
    except Exception:
        return None
