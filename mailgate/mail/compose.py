"""Build outgoing messages: strict address parsing, safe headers, streamed MIME.

The message is produced as a byte stream with bounded memory: the `email`
package builds and serializes the whole MIME tree (headers, text and HTML
parts, and each attachment part's headers) with a marker in place of every
attachment body; the attachment bodies are base64-encoded incrementally from
their async chunk iterators and spliced in at the markers. The serialized
skeleton is kept, so the stream is byte-for-byte the same every time it is
produced (once for SMTP, once for the IMAP APPEND to Sent), and its exact
length is known from the attachment sizes without reading them.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy
from email.policy import default as default_policy
from email.utils import format_datetime
from typing import Literal

from mailgate.errors import BadRequest

__all__ = [
    "FORWARDED_MESSAGE_TYPE",
    "FORWARD_OF_HEADER",
    "MAX_RECIPIENTS",
    "MAX_REFERENCES",
    "AttachmentNotSevenBit",
    "AttachmentSizeMismatch",
    "AttachmentSource",
    "BuiltMessage",
    "Draft",
    "SevenBitLines",
    "base64_length",
    "build_message",
    "crlf_line_ends",
    "kept_msg_id",
    "parse_recipient",
    "reply_threading",
    "safe_filename",
    "seven_bit_only",
]

MAX_RECIPIENTS = 100
# In a saved draft only: the Message-ID of the message the draft forwards, so that sending
# it later (from GET /api/messages/{id}/draft) can still mark that one $Forwarded. The
# reference lives in the user's own mailbox, never on the server; a message built to be
# sent never carries it.
FORWARD_OF_HEADER = "X-Mailgate-Forward-Of"
MAX_REFERENCES = 20
MAX_SUBJECT_CHARS = 998
MAX_DISPLAY_NAME_CHARS = 256
MAX_FILENAME_CHARS = 200

# 57 raw bytes make one 76-character base64 line (RFC 2045 §6.8).
_B64_LINE_BYTES = 57
_B64_WINDOW = _B64_LINE_BYTES * 1024

# Anything that could end a header line or smuggle one in: C0 controls except
# TAB, DEL, and the characters str.splitlines() treats as line breaks.
_LINE_BREAKERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+|localhost")
_MSG_ID = re.compile(r"<[!-;=?-~]{1,250}>")
_TOKEN = r"[a-z0-9!#$&^_.+-]{1,63}"
_CONTENT_TYPE = re.compile(rf"({_TOKEN})/({_TOKEN})")
_ID_HEADERS = frozenset({"message-id", "in-reply-to", "references"})


class _ComposePolicy(EmailPolicy):
    """policy.SMTP with 7-bit bodies and msg-id headers folded between ids only.

    The stock folder turns a msg-id longer than a line into an encoded word,
    which breaks threading; msg-ids are validated printable ASCII here, so
    they are folded at the spaces between them and never encoded.
    """

    def fold(self, name: str, value: str) -> str:
        if name.lower() in _ID_HEADERS:
            return f"{name}: " + f"{self.linesep} ".join(str(value).split()) + self.linesep
        folded: str = super().fold(name, value)  # typeshed leaves EmailPolicy.fold unannotated
        return folded

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() in _ID_HEADERS:
            return self.fold(name, value).encode("ascii")
        return super().fold_binary(name, value)


# cte_type="7bit": non-ASCII text goes out quoted-printable or base64, so the
# message needs neither 8BITMIME nor SMTPUTF8 anywhere on its way.
POLICY = _ComposePolicy(linesep="\r\n", cte_type="7bit")


Priority = Literal["normal", "high", "low"]
# X-Priority (1 highest, 5 lowest) and Importance (RFC 2156) for a non-normal priority.
_PRIORITY_HEADERS: dict[str, tuple[str, str]] = {
    "high": ("1 (Highest)", "high"),
    "low": ("5 (Lowest)", "low"),
}


class AttachmentSizeMismatch(RuntimeError):
    """An attachment source yielded a different number of bytes than it declared."""


class AttachmentNotSevenBit(RuntimeError):
    """A message/rfc822 attachment turned out not to be 7-bit MIME content."""


# A message attached whole (forwarded as an attachment) goes out as this type, its bytes
# verbatim: RFC 2046 §5.2.1 allows no base64 for it, and the message stays 7-bit
# (see POLICY), so only a 7-bit clean message (`SevenBitLines`) is attached so.
FORWARDED_MESSAGE_TYPE = "message/rfc822"

_MAX_LINE = 998


class SevenBitLines:
    """Checks a byte stream, chunk by chunk, for 7bit content (RFC 2045 §2.7, RFC 5322
    §2.1.1): ASCII without NUL, CRLF line ends only, lines of at most 998 octets."""

    def __init__(self) -> None:
        self._line = 0
        self._cr = False
        self.clean = True

    def feed(self, chunk: bytes) -> bool:
        """Take the next chunk; False (and `clean` False from then on) once it is not."""
        if not self.clean or not chunk:
            return self.clean
        self.clean = self._feed(chunk)
        return self.clean

    def _feed(self, chunk: bytes) -> bool:
        if not chunk.isascii() or b"\x00" in chunk:
            return False
        if self._cr != chunk.startswith(b"\n"):
            return False  # a CR that ends a chunk needs its LF first in the next, and only then
        if self._cr:
            self._line = 0
        end = len(chunk) - 1 if chunk.endswith(b"\r") else len(chunk)
        middle = chunk[1 if self._cr else 0 : end]
        self._cr = end < len(chunk)
        lines = middle.split(b"\r\n")
        if any(b"\r" in line or b"\n" in line for line in lines):
            return False  # a bare CR or LF
        self._line += len(lines[0])
        if len(lines) > 1:
            if self._line > _MAX_LINE or max(len(line) for line in lines[1:]) > _MAX_LINE:
                return False
            self._line = len(lines[-1])
        return self._line <= _MAX_LINE

    def end(self) -> bool:
        """Whether the whole stream was clean (a CR may not be its last byte)."""
        return self.clean and not self._cr


@dataclass(frozen=True)
class AttachmentSource:
    """One attachment: metadata plus a factory for a fresh async chunk iterator."""

    filename: str
    content_type: str
    size: int
    open: Callable[[], AsyncIterator[bytes]]


@dataclass
class Draft:
    """What the user asked to send, already parsed (see `parse_recipient`)."""

    from_address: Address
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str | None = None
    attachments: list[AttachmentSource] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    reply_to: Address | None = None
    # Disposition-Notification-To the sender (RFC 8098): the recipient's client may ask
    # its user whether to send a read receipt.
    request_receipt: bool = False
    priority: Priority = "normal"
    # Images the HTML shows (<img src="cid:...">): (Content-ID without <>, source), sent
    # as multipart/related parts next to the HTML part.
    inline_images: list[tuple[str, AttachmentSource]] = field(default_factory=list)
    # A draft of a forward: the Message-ID of the forwarded message (FORWARD_OF_HEADER).
    forward_of: str | None = None


def _invalid(field_name: str) -> BadRequest:
    return BadRequest(f"The address in '{field_name}' is not valid.", field=field_name)


def _checked_addr_spec(addr_spec: str, field_name: str) -> str:
    """Return a strictly valid ASCII `local@domain`, converting an IDN domain."""
    if len(addr_spec) > 254 or _LINE_BREAKERS.search(addr_spec) or addr_spec.count("@") != 1:
        raise _invalid(field_name)
    local, domain = addr_spec.split("@")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise _invalid(field_name) from None
    if (
        len(local) > 64
        or len(domain) > 253
        or not _LOCAL_PART.fullmatch(local)
        or not _DOMAIN.fullmatch(domain)
    ):
        raise _invalid(field_name)
    addr_spec = f"{local}@{domain}"
    if len(addr_spec) > 254:
        raise _invalid(field_name)
    return addr_spec


def _checked_name(name: str, field_name: str) -> str:
    if len(name) > MAX_DISPLAY_NAME_CHARS or _LINE_BREAKERS.search(name):
        raise _invalid(field_name)
    return name.strip()


def parse_recipient(value: str | dict[str, str], field: str) -> Address:
    """Parse `"a@b.c"`, `"Name <a@b.c>"` or `{"name", "email"}` into one Address.

    Raises BadRequest naming `field` (never echoing the value) unless the
    value is exactly one plain `local@domain` address with an optional name.
    """
    if isinstance(value, dict):
        email, name = value.get("email"), value.get("name") or ""
        if not isinstance(email, str) or not isinstance(name, str):
            raise _invalid(field)
        return _make_address(name, email, field)
    if not isinstance(value, str) or len(value) > 600 or _LINE_BREAKERS.search(value):
        raise _invalid(field)
    if "<" not in value:
        return _make_address("", value.strip(), field)
    try:
        header = default_policy.header_factory("To", value)
    except (ValueError, IndexError, TypeError):
        raise _invalid(field) from None
    groups = header.groups
    if header.defects or len(groups) != 1 or groups[0].display_name is not None:
        raise _invalid(field)
    (address,) = groups[0].addresses or (None,)
    if address is None:
        raise _invalid(field)
    return _make_address(address.display_name, address.addr_spec, field)


def _make_address(name: str, addr_spec: str, field_name: str) -> Address:
    spec = _checked_addr_spec(addr_spec, field_name)
    try:
        return Address(display_name=_checked_name(name, field_name), addr_spec=spec)
    except (ValueError, IndexError, TypeError):
        raise _invalid(field_name) from None


def _recheck(address: Address, field_name: str) -> Address:
    """Re-validate an Address the caller may have built without parse_recipient."""
    if not isinstance(address, Address):
        raise _invalid(field_name)
    return _make_address(address.display_name, address.addr_spec, field_name)


def safe_filename(name: str) -> str:
    """A file name that cannot add a header: no controls, no path, bounded length."""
    name = _LINE_BREAKERS.sub("", name or "").replace("\t", " ")
    name = re.split(r"[/\\]", name)[-1].strip().lstrip(".")
    return name[:MAX_FILENAME_CHARS] or "attachment"


def _safe_content_type(value: str) -> tuple[str, str]:
    match = _CONTENT_TYPE.fullmatch((value or "").split(";")[0].strip().lower())
    # multipart/* and message/* may not be base64-encoded (RFC 2046 §5).
    if not match or match.group(1) in ("multipart", "message"):
        return "application", "octet-stream"
    return match.group(1), match.group(2)


def _valid_msg_ids(ids: Sequence[str]) -> list[str]:
    return [i for i in ids if isinstance(i, str) and _MSG_ID.fullmatch(i)]


def _cap_references(ids: list[str]) -> list[str]:
    # Keep the thread root and the most recent ancestors (RFC 5322 §3.6.4).
    if len(ids) <= MAX_REFERENCES:
        return ids
    return [ids[0], *ids[-(MAX_REFERENCES - 1) :]]


def kept_msg_id(value: str | None) -> str | None:
    """``value`` when it is one valid msg-id (``<…>``, nothing around it), else None."""
    found = _valid_msg_ids([(value or "").strip()])
    return found[0] if found else None


def kept_threading(
    in_reply_to: str | None, references: Sequence[str]
) -> tuple[str | None, list[str]]:
    """In-Reply-To and References of a saved message cut to what a message built here
    carries (valid msg-ids only, the References capped as for a reply)."""
    parent = _valid_msg_ids([(in_reply_to or "").strip()])
    return (parent[0] if parent else None), _cap_references(_valid_msg_ids(list(references)))


def reply_threading(
    parent_message_id: str | None, parent_references: str | Sequence[str] | None
) -> tuple[str | None, list[str]]:
    """In-Reply-To and References for a reply to a parent with these headers."""
    if isinstance(parent_references, str):
        parent_refs = re.findall(r"<[^<>\s]+>", parent_references)
    else:
        parent_refs = list(parent_references or [])
    refs = _valid_msg_ids(parent_refs)
    parent = (parent_message_id or "").strip()
    if not _MSG_ID.fullmatch(parent):
        return None, _cap_references(refs)
    if parent not in refs:
        refs.append(parent)
    return parent, _cap_references(refs)


def base64_length(size: int) -> int:
    """Bytes of base64 text for `size` raw bytes, in 76-character CRLF lines."""
    return 4 * -(-size // 3) + 2 * -(-size // _B64_LINE_BYTES)


async def _base64_stream(source: AttachmentSource) -> AsyncIterator[bytes]:
    """Base64-encode an attachment incrementally, in whole 76-character lines."""
    pending = b""
    seen = 0
    async for chunk in source.open():
        seen += len(chunk)
        if seen > source.size:
            raise AttachmentSizeMismatch("an attachment is larger than its declared size")
        view = memoryview(chunk)
        if pending:
            take = _B64_LINE_BYTES - len(pending)
            pending += bytes(view[:take])
            view = view[take:]
            if len(pending) < _B64_LINE_BYTES:
                continue
            yield base64.encodebytes(pending).replace(b"\n", b"\r\n")
            pending = b""
        whole = len(view) - len(view) % _B64_LINE_BYTES
        for start in range(0, whole, _B64_WINDOW):
            window = view[start : min(start + _B64_WINDOW, whole)]
            yield base64.encodebytes(window).replace(b"\n", b"\r\n")
        pending = bytes(view[whole:])
    if seen != source.size:
        raise AttachmentSizeMismatch("an attachment is smaller than its declared size")
    if pending:
        yield base64.encodebytes(pending).replace(b"\n", b"\r\n")


def _verbatim(source: AttachmentSource) -> bool:
    return source.content_type == FORWARDED_MESSAGE_TYPE


_BARE_LF = re.compile(rb"(?<!\r)\n")


async def crlf_line_ends(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks with each bare LF made CRLF, the line end of mail on the wire (some IMAP
    servers give a message back with the LF line ends it was stored with)."""
    cr = False
    async for chunk in chunks:
        if not chunk:
            continue
        out = _BARE_LF.sub(b"\r\n", chunk)
        if cr and chunk.startswith(b"\n"):
            out = out[1:]  # its CR ended the previous chunk
        cr = chunk.endswith(b"\r")
        yield out


async def seven_bit_only(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks as they come; AttachmentNotSevenBit as soon as they are not 7-bit clean."""
    check = SevenBitLines()
    async for chunk in chunks:
        if not check.feed(chunk):
            raise AttachmentNotSevenBit("an attached message is not 7-bit clean")
        yield chunk
    if not check.end():
        raise AttachmentNotSevenBit("an attached message is not 7-bit clean")


async def _verbatim_stream(source: AttachmentSource) -> AsyncIterator[bytes]:
    """A message attached whole, as it is; checked again on the way, so a message that
    is not 7-bit clean never leaves (half-sent) as a 7bit part."""
    seen = 0
    async for chunk in seven_bit_only(source.open()):
        seen += len(chunk)
        if seen > source.size:
            raise AttachmentSizeMismatch("an attachment is larger than its declared size")
        yield chunk
    if seen != source.size:
        raise AttachmentSizeMismatch("an attachment is smaller than its declared size")


class BuiltMessage:
    """A composed message that can be streamed (repeatably) and measured up front."""

    def __init__(
        self,
        *,
        message_id: str,
        envelope_from: str,
        recipients: list[str],
        segments: dict[bool, list[bytes]],
        attachments: list[AttachmentSource],
    ) -> None:
        self.message_id = message_id
        self.envelope_from = envelope_from
        self.recipients = recipients
        self._segments = segments
        self._attachments = attachments

    def length(self, include_bcc: bool) -> int:
        """Exact size of `chunks(include_bcc=...)`, without reading any attachment."""
        fixed = sum(len(s) for s in self._segments[include_bcc])
        return fixed + sum(
            a.size if _verbatim(a) else base64_length(a.size) for a in self._attachments
        )

    async def chunks(self, *, include_bcc: bool) -> AsyncIterator[bytes]:
        """The message as CRLF bytes; the same bytes every time for the same flag."""
        segments = self._segments[include_bcc]
        yield segments[0]
        for source, after in zip(self._attachments, segments[1:], strict=True):
            stream = _verbatim_stream(source) if _verbatim(source) else _base64_stream(source)
            async for piece in stream:
                yield piece
            yield after

    async def read_all(self, *, include_bcc: bool) -> bytes:
        """The whole message in memory; for small messages and tests only."""
        return b"".join([c async for c in self.chunks(include_bcc=include_bcc)])


def _check_text(value: str, *, single_line: bool, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise BadRequest("The message has a field of the wrong type.")
    if single_line and _LINE_BREAKERS.search(value):
        raise BadRequest("The subject must be a single line without control characters.")
    if "\x00" in value:
        raise BadRequest("The message text may not contain NUL characters.")
    if limit is not None and len(value) > limit:
        raise BadRequest("The subject is too long.")
    return value


def _drop_mime_version(part: MIMEPart) -> None:
    # set_content() stamps MIME-Version on every part; it belongs on the top only.
    for sub in part.iter_parts():
        del sub["MIME-Version"]
        _drop_mime_version(sub)


def _set_boundaries(part: MIMEPart) -> None:
    # Random, fixed boundaries: both serializations (with and without Bcc)
    # share them, and nothing in them names this software.
    if part.is_multipart():
        part.set_boundary("=_" + secrets.token_hex(16))
        for sub in part.iter_parts():
            _set_boundaries(sub)


def _serialize(msg: EmailMessage, marker: bytes, count: int) -> list[bytes]:
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=POLICY).flatten(msg)
    segments = buffer.getvalue().split(marker)
    if len(segments) != count + 1:  # a marker could only collide on a bug
        raise RuntimeError("message skeleton is malformed")
    return segments


def build_message(draft: Draft, *, now: datetime | None = None) -> BuiltMessage:
    """Validate a Draft and build its streamable message; BadRequest on bad input."""
    sender = _recheck(draft.from_address, "from")
    to = [_recheck(a, "to") for a in draft.to]
    cc = [_recheck(a, "cc") for a in draft.cc]
    bcc = [_recheck(a, "bcc") for a in draft.bcc]
    envelope: list[str] = []
    for address in (*to, *cc, *bcc):
        if address.addr_spec.lower() not in (e.lower() for e in envelope):
            envelope.append(address.addr_spec)
    if not envelope:
        raise BadRequest("Add at least one recipient.")
    if len(envelope) > MAX_RECIPIENTS:
        raise BadRequest("The message has too many recipients.")
    subject = _check_text(draft.subject, single_line=True, limit=MAX_SUBJECT_CHARS)
    text = _check_text(draft.text, single_line=False)
    html = None if draft.html is None else _check_text(draft.html, single_line=False)

    # Random id on the sender's domain: make_msgid() would add the server's PID.
    message_id = f"<{secrets.token_hex(16)}@{sender.domain}>"
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    if draft.reply_to is not None:
        msg["Reply-To"] = _recheck(draft.reply_to, "reply_to")
    if to:
        msg["To"] = to
    if cc:
        msg["Cc"] = cc
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = subject
    # UTC, so the Date header does not reveal the server's time zone.
    msg["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    msg["Message-ID"] = message_id
    in_reply_to = _valid_msg_ids([draft.in_reply_to or ""])
    references = _cap_references(_valid_msg_ids(draft.references))
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to[0]
    if references:
        msg["References"] = " ".join(references)
    forward_of = _valid_msg_ids([draft.forward_of or ""])
    if forward_of:
        msg[FORWARD_OF_HEADER] = forward_of[0]
    if draft.request_receipt:
        msg["Disposition-Notification-To"] = f"<{sender.addr_spec}>"
    if draft.priority in _PRIORITY_HEADERS:
        x_priority, importance = _PRIORITY_HEADERS[draft.priority]
        msg["X-Priority"] = x_priority
        msg["Importance"] = importance
    msg["MIME-Version"] = "1.0"

    msg.set_content(text, subtype="plain", charset="utf-8")
    marker = f"\x00attachment-{secrets.token_hex(16)}\x00"
    marked: list[MIMEPart] = []
    inline = list(draft.inline_images) if html is not None else []
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
        html_part = next(p for p in msg.iter_parts() if p.get_content_type() == "text/html")
        for cid, source in inline:
            maintype, subtype = _safe_content_type(source.content_type)
            if maintype != "image":
                maintype, subtype = "application", "octet-stream"
            filename = safe_filename(source.filename)
            # alternative[text, related[html, images]]: the HTML and what it shows.
            html_part.add_related(
                b"",
                maintype=maintype,
                subtype=subtype,
                cid=f"<{cid}>",
                disposition="inline",
                filename=filename,
                cte="base64",
            )
        if inline:
            related = next(
                p for p in msg.iter_parts() if p.get_content_type() == "multipart/related"
            )
            marked.extend(list(related.iter_parts())[1:])
    for source in draft.attachments:
        filename = safe_filename(source.filename)
        if _verbatim(source):
            # A message attached whole: message/rfc822, its bytes as they are (7bit).
            msg.add_attachment(
                b"", maintype="application", subtype="octet-stream", filename=filename, cte="7bit"
            )
            list(msg.iter_parts())[-1].replace_header("Content-Type", FORWARDED_MESSAGE_TYPE)
            continue
        maintype, subtype = _safe_content_type(source.content_type)
        msg.add_attachment(
            b"",
            maintype=maintype,
            subtype=subtype,
            filename=filename,
            params={"name": filename},
            cte="base64",
        )
    marked.extend(p for p in msg.walk() if p.get_content_disposition() == "attachment")
    for part in marked:
        part.set_payload(marker)
    _drop_mime_version(msg)
    _set_boundaries(msg)

    sources = [source for _, source in inline] + list(draft.attachments)
    count = len(sources)
    raw_marker = marker.encode("ascii")
    with_bcc = _serialize(msg, raw_marker, count)
    del msg["Bcc"]
    without_bcc = _serialize(msg, raw_marker, count) if bcc else with_bcc
    return BuiltMessage(
        message_id=message_id,
        envelope_from=sender.addr_spec,
        recipients=envelope,
        segments={True: with_bcc, False: without_bcc},
        attachments=sources,
    )
