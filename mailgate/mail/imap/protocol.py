"""A lean IMAP4rev1 connection on asyncio streams: commands, responses, tokenizer, streaming.

One command runs at a time per connection (an ``asyncio.Lock``) under one whole-command
timeout. Response lines are read with ``readuntil`` / ``readexactly`` and tokenized with one
compiled regular expression. Nothing on the hot path logs. Any failure that could leave the
stream in an unknown state (timeout, cancellation, EOF, parse error) closes the connection,
so it is never reused desynchronised.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import ssl
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ..sasl import BEARER_MECHANISMS, bearer_message, check_bearer
from .errors import (
    ImapAuthError,
    ImapBadError,
    ImapError,
    ImapNoError,
    ImapProtocolError,
    ImapTlsError,
    ImapUnavailable,
    ImapUnsupported,
)

__all__ = [
    "DEFAULT_CHUNK",
    "ImapConnection",
    "LiteralArg",
    "QuotedArg",
    "Response",
    "SectionStream",
    "Security",
    "Token",
    "Untagged",
    "fetch_items",
    "numbers_of",
    "quote",
    "tokenize",
]

Security = Literal["tls", "starttls"]
_T = TypeVar("_T")
#: atoms are ``str``, quoted strings and literals ``bytes``, NIL ``None``, lists ``list``.
Token = Any

DEFAULT_CHUNK = 64 * 1024
#: StreamReader limit: also its flow-control mark (reading pauses at 2x), which is what
#: bounds memory while a literal is relayed. Longer lines are joined by ``_readline``.
_READER_LIMIT = 256 * 1024
#: Longest response line we accept (a UID SEARCH over ~1M messages); bounds memory.
_LINE_LIMIT = 16 * 1024 * 1024
#: Largest literal buffered whole by ``command`` (streams have no such limit).
_MAX_LITERAL = 512 * 1024 * 1024
#: An abandoned stream with at most this much left is drained; otherwise the link is closed.
_DRAIN_MAX = 1024 * 1024

# One alternation per token kind; the literal marker may only end a line fragment. The atom
# branch swallows a FETCH section spec such as ``BODY[HEADER.FIELDS (TO)]<0>`` whole. No
# groups (findall then returns one bytes per token, told apart by its first byte) and the
# quoted string as an unrolled loop: together 2.5x faster on a 50-summary FETCH response.
_TOKEN = re.compile(
    rb"~?\{\d+\}$"
    rb'|[^\s()"{}\[\]]+(?:\[[^\]]*\](?:<\d+>)?)?'
    rb'|"[^"\\]*(?:\\.[^"\\]*)*"'
    rb"|[()]"
)
_UNESCAPE = re.compile(rb"\\(.)", re.S)
_LIT_TAIL = re.compile(rb"~?\{(\d+)\}\r\n\Z")
_STATUS = re.compile(rb"(OK|NO|BAD|BYE|PREAUTH)(?= |\r|$)(?: \[([^\]]*)\])?", re.I)
_NUMBER_REPLY = re.compile(rb"(SORT|SEARCH)(?= |$)", re.I)
_DIGITS_AND_SPACES = b"0123456789 "
_QUOTABLE = re.compile(rb"[\x20-\x7e]*")
_SAFE_ATOM_TEXT = re.compile(r"[\x20-\x7e]*")

# Response codes we pass on as ``reason``; anything else becomes "no" (never server text).
_KNOWN_CODES = frozenset(
    [
        "ALERT",
        "ALREADYEXISTS",
        "AUTHENTICATIONFAILED",
        "AUTHORIZATIONFAILED",
        "BADCHARSET",
        "CANNOT",
        "CLIENTBUG",
        "CONTACTADMIN",
        "CORRUPTION",
        "EXPIRED",
        "EXPUNGEISSUED",
        "INUSE",
        "LIMIT",
        "NONEXISTENT",
        "NOPERM",
        "OVERQUOTA",
        "PRIVACYREQUIRED",
        "READ-ONLY",
        "SERVERBUG",
        "TRYCREATE",
        "UNAVAILABLE",
        "UNKNOWN-CTE",
    ]
)


# -- arguments ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuotedArg:
    """A ready quoted string (``"..."``)."""

    wire: bytes


@dataclass(frozen=True, slots=True)
class LiteralArg:
    """A literal; sent as ``{n+}`` with LITERAL+ else as a synchronizing ``{n}``."""

    data: bytes


def quote(value: str | bytes) -> QuotedArg | LiteralArg:
    """Safest encoding of a string argument: quoted for short printable ASCII, else a literal.

    NUL cannot travel in IMAP4rev1 at all, so it raises ValueError.
    """
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if b"\0" in data:
        raise ValueError("NUL cannot be sent to an IMAP server")
    if len(data) <= 1000 and _QUOTABLE.fullmatch(data):
        return QuotedArg(b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"')
    return LiteralArg(data)


# -- responses ------------------------------------------------------------------------------


class Untagged:
    """``* [number] KIND data…``; for status lines (OK/NO/BAD/BYE/PREAUTH) ``data`` is the
    tokenized response code (``[UIDVALIDITY 3]`` → ``["UIDVALIDITY", "3"]``). A SORT or
    SEARCH reply of nothing but numbers has them in ``numbers`` and no ``data``: read
    both kinds with ``numbers_of``."""

    __slots__ = ("data", "kind", "number", "numbers")

    def __init__(
        self,
        number: int | None,
        kind: str,
        data: list[Token],
        numbers: array[int] | None = None,
    ) -> None:
        self.number = number
        self.kind = kind
        self.data = data
        self.numbers = numbers

    @property
    def code(self) -> str | None:
        """The response code name of a status line, upper case."""
        if self.data and isinstance(self.data[0], str):
            return self.data[0].upper()
        return None

    def __repr__(self) -> str:  # no payload: it may hold personal data
        return f"Untagged({self.number!r}, {self.kind!r})"


@dataclass(slots=True)
class Response:
    """The tagged completion plus every untagged response received meanwhile."""

    status: str
    code: str | None = None
    code_data: list[Token] = field(default_factory=list)
    untagged: list[Untagged] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Untagged]:
        return [u for u in self.untagged if u.kind == kind]

    def codes(self, name: str) -> list[list[Token]]:
        """Data of response code ``name`` from the tagged and untagged status lines."""
        found = [u.data for u in self.untagged if u.code == name and u.kind in ("OK", "NO")]
        if self.code == name:
            found.append(self.code_data)
        return found


def numbers_of(resp: Response, kind: str) -> array[int]:
    """The numbers of the ``kind`` (SORT, SEARCH) replies, in order, as 32-bit UIDs or
    message numbers; in a reply that also holds other data (a MODSEQ), its numbers."""
    out = array("I")
    for u in resp.of_kind(kind):
        if u.numbers is not None:
            out.extend(u.numbers)
        else:
            # isascii: str.isdigit() also takes "²" and other digits int() refuses.
            out.extend(
                _in_range(t) for t in u.data if isinstance(t, str) and t.isascii() and t.isdigit()
            )
    return out


def _in_range(token: str) -> int:
    value = int(token)
    if not 0 < value < 1 << 32:
        raise ImapProtocolError("number_out_of_range")
    return value


def fetch_items(untagged: Untagged) -> dict[str, Token]:
    """The ``(KEY value …)`` list of a FETCH response as a dict with upper-case keys."""
    items = untagged.data[0] if untagged.data and isinstance(untagged.data[0], list) else []
    it = iter(items)
    out = {str(k).upper(): v for k, v in zip(it, it, strict=False)}
    if any(".PEEK[" in k for k in out):  # pymap echoes the .PEEK in BINARY.PEEK[…]
        out = {k.replace(".PEEK[", "["): v for k, v in out.items()}
    return out


def tokenize(fragments: Sequence[bytes], literals: Iterable[bytes] = ()) -> list[Token]:
    """Tokenize line fragments; each fragment but the last ended with a literal marker."""
    root: list[Token] = []
    cur = root
    stack: list[list[Token]] = []
    lits = iter(literals)
    for frag in fragments:
        for tok in _TOKEN.findall(frag):
            first = tok[0]
            if first == 0x22:  # a quoted string
                q = tok[1:-1]
                cur.append(_UNESCAPE.sub(rb"\1", q) if b"\\" in q else q)
            elif first == 0x28:  # (
                new: list[Token] = []
                cur.append(new)
                stack.append(cur)
                cur = new
            elif first == 0x29:  # )
                if stack:  # tolerate a stray ")" from odd servers
                    cur = stack.pop()
            elif tok[-1] == 0x7D:  # a literal marker {n}: an atom never ends with "}"
                try:
                    cur.append(next(lits))
                except StopIteration:
                    raise ImapProtocolError("literal_mismatch") from None
            elif len(tok) == 3 and tok.upper() == b"NIL":
                cur.append(None)
            else:
                cur.append(tok.decode("utf-8", "replace"))
    return root


# A reply line longer than this (a sender can make ENVELOPE and BODYSTRUCTURE huge: 10,000
# parts, 30,000 recipients) is tokenized in a thread, so the event loop keeps its turns.
_TOKENIZE_INLINE_MAX = 64 * 1024


# One thread for all connections: however many such replies arrive at once, the event
# loop competes for the GIL with one tokenizer, not with one per reply.
_TOKENIZER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-tokenize")


async def _parse_untagged_off_loop(frags: list[bytes], lits: list[bytes]) -> Untagged:
    if sum(len(f) for f in frags) <= _TOKENIZE_INLINE_MAX:
        return _parse_untagged(frags, lits)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_TOKENIZER, _parse_untagged, frags, lits)


def _parse_untagged(frags: list[bytes], lits: list[bytes]) -> Untagged:
    body = frags[0][2:]
    if len(frags) == 1 and (numbers := _number_reply(body)) is not None:
        return numbers
    status = _STATUS.match(body)
    if status:
        code = status.group(2)
        return Untagged(None, status.group(1).decode().upper(), tokenize([code]) if code else [])
    tokens = tokenize([body, *frags[1:]], lits)
    if not tokens or not isinstance(tokens[0], str):
        raise ImapProtocolError("untagged")
    if tokens[0].isdigit() and len(tokens) > 1 and isinstance(tokens[1], str):
        return Untagged(int(tokens[0]), tokens[1].upper(), tokens[2:])
    return Untagged(None, tokens[0].upper(), tokens[1:])


def _number_reply(body: bytes) -> Untagged | None:
    """A SORT or SEARCH reply of nothing but numbers, read straight into an array: the
    reply to a list of 100,000 messages is 590 KB, and going through 100,000 strings first
    cost 16.4 ms against 13.7 ms (best of 35, benchmarks/README.md)."""
    kind = _NUMBER_REPLY.match(body)
    if kind is None:
        return None
    rest = body[kind.end() :]
    if rest.translate(None, _DIGITS_AND_SPACES):
        return None  # something else too (a MODSEQ): the tokenizer reads it
    try:
        numbers = array("I", map(int, rest.split()))
    except OverflowError:
        raise ImapProtocolError("number_out_of_range") from None
    if 0 in numbers:
        raise ImapProtocolError("number_out_of_range")
    return Untagged(None, kind.group(1).decode("ascii").upper(), [], numbers)


def _parse_tagged(line: bytes, tag_len: int, untagged: list[Untagged]) -> Response:
    status = _STATUS.match(line, tag_len)
    if not status:
        raise ImapProtocolError("tagged")
    code_data = tokenize([status.group(2)]) if status.group(2) else []
    code = code_data[0].upper() if code_data and isinstance(code_data[0], str) else None
    return Response(status.group(1).decode().upper(), code, code_data, untagged)


def _capabilities(resp: Response) -> frozenset[str] | None:
    if resp.code == "CAPABILITY":
        return frozenset(str(c).upper() for c in resp.code_data[1:])
    for u in resp.untagged:
        if u.kind == "CAPABILITY":
            return frozenset(str(c).upper() for c in u.data)
        if u.code == "CAPABILITY":
            return frozenset(str(c).upper() for c in u.data[1:])
    return None


def _reason(resp: Response, default: str) -> str:
    return resp.code.lower() if resp.code in _KNOWN_CODES else default


def raise_for_status(resp: Response) -> Response:
    """Return ``resp`` if OK; NO → ImapNoError, BAD → ImapBadError."""
    if resp.status == "OK":
        return resp
    if resp.status == "NO":
        raise ImapNoError(_reason(resp, "no"))
    raise ImapBadError(_reason(resp, "bad"))


# -- the connection -------------------------------------------------------------------------


class ImapConnection:
    """One IMAP connection. Use :meth:`open`; then :meth:`login` and :meth:`command`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._tags = itertools.count(1)
        self._closed = False
        self.capabilities: frozenset[str] = frozenset()

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        security: Security,
        ssl_context: ssl.SSLContext,
        *,
        timeout: float,
        address: str | None = None,
    ) -> ImapConnection:
        """Connect with implicit TLS or mandatory STARTTLS and read the capabilities.

        `address`: connect to this already-checked IP address instead of resolving `host`
        again (the certificate is still verified against `host`)."""
        if security not in ("tls", "starttls"):
            raise ValueError("security must be 'tls' or 'starttls'")
        if not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError("an ssl.SSLContext is required")
        conn: ImapConnection | None = None
        try:
            async with asyncio.timeout(timeout):
                if security == "tls":
                    reader, writer = await asyncio.open_connection(
                        address or host,
                        port,
                        ssl=ssl_context,
                        server_hostname=host,
                        ssl_handshake_timeout=timeout,
                        limit=_READER_LIMIT,
                    )
                else:
                    reader, writer = await asyncio.open_connection(
                        address or host, port, limit=_READER_LIMIT
                    )
                conn = cls(reader, writer, timeout)
                await conn._handshake(host, security, ssl_context)
                return conn
        except BaseException as exc:
            if conn is not None:
                conn.close()
            raise _translate(exc) from None

    async def _handshake(self, host: str, security: Security, ctx: ssl.SSLContext) -> None:
        frags, lits = await self._read_unit()
        if not frags[0].startswith(b"* "):
            raise ImapProtocolError("greeting")
        greeting = _parse_untagged(frags, lits)
        if greeting.kind == "PREAUTH":
            # CVE-2021-39272: a PREAUTH greeting would skip STARTTLS and our credentials check.
            raise ImapTlsError("preauth") if security == "starttls" else ImapUnavailable("preauth")
        if greeting.kind == "BYE":
            raise ImapUnavailable("bye")
        if greeting.kind != "OK":
            raise ImapProtocolError("greeting")
        caps = None
        if greeting.code == "CAPABILITY":
            caps = frozenset(str(c).upper() for c in greeting.data[1:])
        if caps is None:
            caps = await self._fetch_capabilities()
        if security == "starttls":
            if "STARTTLS" not in caps:
                raise ImapTlsError("no_starttls")
            resp = await self._exchange(("STARTTLS",))
            if resp.status != "OK":
                raise ImapTlsError("starttls_refused")
            # SEC-42: bytes already buffered after the OK were injected before TLS.
            if self._buffered():
                raise ImapTlsError("starttls_injection")
            await self._writer.start_tls(ctx, server_hostname=host, ssl_handshake_timeout=None)
            caps = await self._fetch_capabilities()  # pre-TLS capabilities are discarded
        self.capabilities = caps

    def _buffered(self) -> int:
        # StreamReader has no public "bytes pending" accessor; its buffer is a bytearray.
        buffer = getattr(self._reader, "_buffer", None)
        return len(buffer) if buffer is not None else 0

    async def _fetch_capabilities(self) -> frozenset[str]:
        resp = raise_for_status(await self._exchange(("CAPABILITY",)))
        caps = _capabilities(resp)
        if caps is None:
            raise ImapProtocolError("capability")
        return caps

    # -- state --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed or self._writer.is_closing()

    def close(self) -> None:
        """Drop the connection at once (no LOGOUT)."""
        self._closed = True
        self._writer.close()

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    def _check_open(self) -> None:
        if self.closed:
            raise ImapUnavailable("closed")

    # -- reading ------------------------------------------------------------------------------

    async def _readline(self) -> bytes:
        """One line with its CRLF; lines longer than the reader limit are joined here."""
        try:
            return await self._reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as exc:
            consumed = exc.consumed
        parts: list[bytes] = []
        total = 0
        while True:
            parts.append(await self._reader.readexactly(consumed))
            total += consumed
            if total > _LINE_LIMIT:
                raise ImapProtocolError("line_too_long")
            try:
                parts.append(await self._reader.readuntil(b"\r\n"))
                return b"".join(parts)
            except asyncio.LimitOverrunError as exc:
                consumed = exc.consumed

    async def _read_unit(self, line: bytes | None = None) -> tuple[list[bytes], list[bytes]]:
        """One response line with its literals: (fragments without CRLF, literals)."""
        if line is None:
            line = await self._readline()
        if not line.endswith(b"}\r\n"):
            return [line[:-2]], []
        frags: list[bytes] = []
        lits: list[bytes] = []
        while True:
            m = _LIT_TAIL.search(line)
            if m is None:
                frags.append(line[:-2])
                return frags, lits
            size = int(m.group(1))
            if size > _MAX_LITERAL:
                raise ImapProtocolError("literal_too_large")
            frags.append(line[:-2])
            lits.append(await self._reader.readexactly(size))
            line = await self._readline()

    async def _read_until_tagged(self, tag: bytes, untagged: list[Untagged]) -> Response:
        prefix = tag + b" "
        while True:
            frags, lits = await self._read_unit()
            first = frags[0]
            if first.startswith(b"* "):
                untagged.append(await _parse_untagged_off_loop(frags, lits))
            elif first.startswith(prefix):
                return _parse_tagged(first, len(prefix), untagged)
            elif first.startswith(b"+"):
                raise ImapProtocolError("unexpected_continuation")
            else:
                raise ImapProtocolError("unexpected_line")

    async def _wait_continuation(self, tag: bytes, untagged: list[Untagged]) -> Response | None:
        """Wait for ``+``; a tagged reply instead (the command failed) is returned."""
        prefix = tag + b" "
        while True:
            frags, lits = await self._read_unit()
            first = frags[0]
            if first.startswith(b"+"):
                return None
            if first.startswith(b"* "):
                untagged.append(_parse_untagged(frags, lits))
            elif first.startswith(prefix):
                return _parse_tagged(first, len(prefix), untagged)
            else:
                raise ImapProtocolError("unexpected_line")

    # -- writing ------------------------------------------------------------------------------

    def _next_tag(self) -> bytes:
        return b"M%d" % next(self._tags)

    def _encode(self, tag: bytes, parts: Sequence[object]) -> list[bytes]:
        """Wire segments; between two segments the server's ``+`` must be awaited."""
        plus = "LITERAL+" in self.capabilities
        minus = "LITERAL-" in self.capabilities
        segments: list[bytes] = []
        buf = bytearray(tag)
        for part in parts:
            buf += b" "
            if isinstance(part, str):
                # Internal syntax only (command names, sets, item lists); user data goes
                # through quote(). Still refuse anything that could end the command line.
                if not _SAFE_ATOM_TEXT.fullmatch(part):
                    raise ValueError("unsafe characters in an IMAP command")
                buf += part.encode("ascii")
            elif isinstance(part, QuotedArg):
                buf += part.wire
            elif isinstance(part, LiteralArg):
                size = len(part.data)
                if plus or (minus and size <= 4096):
                    buf += b"{%d+}\r\n" % size
                    buf += part.data
                else:
                    buf += b"{%d}\r\n" % size
                    segments.append(bytes(buf))
                    buf = bytearray(part.data)
            else:
                raise TypeError("IMAP command parts are str, QuotedArg or LiteralArg")
        buf += b"\r\n"
        segments.append(bytes(buf))
        return segments

    async def _exchange(self, parts: Sequence[object]) -> Response:
        """Send one command and read through its tagged reply (no lock, no timeout)."""
        tag = self._next_tag()
        return await self._send(tag, self._encode(tag, parts))

    async def _send(self, tag: bytes, segments: list[bytes]) -> Response:
        untagged: list[Untagged] = []
        self._writer.write(segments[0])
        for segment in segments[1:]:
            early = await self._wait_continuation(tag, untagged)
            if early is not None:
                return early
            self._writer.write(segment)
        return await self._read_until_tagged(tag, untagged)

    async def _guarded(self, coro: Awaitable[_T]) -> _T:
        """Run ``coro`` under the whole-command timeout; close on anything unexpected."""
        try:
            async with asyncio.timeout(self.timeout):
                return await coro
        except (ImapNoError, ImapBadError):
            raise  # raised only after a complete tagged reply: the stream is in sync
        except BaseException as exc:
            self.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _translate(exc) from None

    # -- commands -----------------------------------------------------------------------------

    async def execute(self, *parts: object) -> Response:
        """Run one command and return its response whatever the tagged status."""
        async with self._lock:
            self._check_open()
            tag = self._next_tag()
            segments = self._encode(tag, parts)  # may raise ValueError before anything is sent
            return await self._guarded(self._send(tag, segments))

    async def command(self, *parts: object) -> Response:
        """Run one command; NO → ImapNoError, BAD → ImapBadError."""
        return raise_for_status(await self.execute(*parts))

    async def command_streaming(
        self, parts: Sequence[object], size: int, chunks: AsyncIterator[bytes]
    ) -> Response:
        """Run a command whose last argument is a literal of ``size`` bytes streamed from
        ``chunks`` (APPEND of a large message) with back-pressure, never held whole.
        NO → ImapNoError, BAD → ImapBadError; a size mismatch closes the connection."""
        async with self._lock:
            self._check_open()
            tag = self._next_tag()
            segments = self._encode(tag, parts)
            synchronizing = "LITERAL+" not in self.capabilities
            marker = b" {%d}\r\n" if synchronizing else b" {%d+}\r\n"
            segments[-1] = segments[-1][:-2] + marker % size
            return raise_for_status(
                await self._guarded(
                    self._send_streaming(tag, segments, size, chunks, synchronizing)
                )
            )

    async def _send_streaming(
        self,
        tag: bytes,
        segments: list[bytes],
        size: int,
        chunks: AsyncIterator[bytes],
        synchronizing: bool,
    ) -> Response:
        untagged: list[Untagged] = []
        self._writer.write(segments[0])
        for segment in [*segments[1:], *([b""] if synchronizing else [])]:
            early = await self._wait_continuation(tag, untagged)
            if early is not None:
                return early
            if segment:
                self._writer.write(segment)
        sent = 0
        async for chunk in chunks:
            if b"\0" in chunk:
                raise ValueError("NUL cannot be sent to an IMAP server")
            sent += len(chunk)
            if sent > size:
                raise ValueError("the literal is longer than announced")
            self._writer.write(chunk)
            await self._writer.drain()
        if sent != size:
            raise ValueError("the literal is shorter than announced")
        self._writer.write(b"\r\n")
        return await self._read_until_tagged(tag, untagged)

    async def pipeline(self, *commands: Sequence[object]) -> list[Response]:
        """Send several commands at once and read their replies (statuses not checked)."""
        async with self._lock:
            self._check_open()
            wires = []
            for parts in commands:
                tag = self._next_tag()
                wires.append((tag, self._encode(tag, parts)))
            return await self._guarded(self._pipeline(wires))

    async def _pipeline(self, wires: list[tuple[bytes, list[bytes]]]) -> list[Response]:
        if any(len(segments) > 1 for _, segments in wires):
            # synchronizing literals need a round trip each: no pipelining
            return [await self._send(tag, segments) for tag, segments in wires]
        self._writer.write(b"".join(segments[0] for _, segments in wires))
        return [await self._read_until_tagged(tag, []) for tag, _ in wires]

    async def login(self, username: str, password: str) -> None:
        """LOGIN with both values as literals (exact bytes); refresh capabilities after."""
        for value in (username, password):
            if any(ch in value for ch in "\0\r\n"):
                raise ValueError("user names and passwords cannot contain NUL, CR or LF")
        if "LOGINDISABLED" in self.capabilities:
            raise ImapAuthError("login_disabled")
        user = LiteralArg(username.encode("utf-8"))
        secret = LiteralArg(password.encode("utf-8"))
        try:
            resp = await self.execute("LOGIN", user, secret)
        except ImapUnavailable as exc:
            # The server answered the greeting, then hung up on these credentials (pymap
            # does so for 4-byte UTF-8): a refusal of what the user typed, not an outage.
            if exc.reason == "eof":
                raise ImapAuthError("closed_at_login") from None
            raise
        if resp.status in ("NO", "BAD"):
            # BAD: the server could not take the name or password as typed.
            raise ImapAuthError(_reason(resp, "refused"))
        raise_for_status(resp)
        caps = _capabilities(resp)
        if caps is None:
            caps = _capabilities(await self.command("CAPABILITY"))
        if caps is not None:
            self.capabilities = caps

    async def authenticate_bearer(
        self, username: str, token: str, host: str = "", port: int = 0
    ) -> None:
        """AUTHENTICATE with an OAuth access token: OAUTHBEARER (RFC 7628), else XOAUTH2.
        Sent as an initial response with SASL-IR (RFC 4959), else after the first ``+``;
        a server's error challenge is answered as each mechanism wants, then the tagged
        NO is a refusal. Refresh capabilities after, like login()."""
        check_bearer(username, token)
        mechanism = next((m for m in BEARER_MECHANISMS if f"AUTH={m}" in self.capabilities), None)
        if mechanism is None:
            raise ImapAuthError("no_bearer_mechanism")
        initial = base64.b64encode(bearer_message(mechanism, username, token, host, port))
        # The dummy answer to an error challenge: ^A for OAUTHBEARER, empty for XOAUTH2.
        dummy = b"AQ==" if mechanism == "OAUTHBEARER" else b""
        sasl_ir = "SASL-IR" in self.capabilities
        async with self._lock:
            self._check_open()
            tag = self._next_tag()
            untagged: list[Untagged] = []

            async def run() -> Response:
                start = tag + b" AUTHENTICATE " + mechanism.encode("ascii")
                if sasl_ir:
                    self._writer.write(start + b" " + initial + b"\r\n")
                else:
                    self._writer.write(start + b"\r\n")
                    early = await self._wait_continuation(tag, untagged)
                    if early is not None:
                        return early
                    self._writer.write(initial + b"\r\n")
                for _ in range(2):
                    early = await self._wait_continuation(tag, untagged)
                    if early is not None:
                        return early
                    self._writer.write(dummy + b"\r\n")
                raise ImapProtocolError("unexpected_continuation")

            try:
                resp = await self._guarded(run())
            except ImapUnavailable as exc:
                if exc.reason == "eof":
                    raise ImapAuthError("closed_at_login") from None
                raise
        if resp.status in ("NO", "BAD"):
            raise ImapAuthError(_reason(resp, "refused"))
        raise_for_status(resp)
        caps = _capabilities(resp)
        if caps is None:
            caps = _capabilities(await self.command("CAPABILITY"))
        if caps is not None:
            self.capabilities = caps

    async def noop(self) -> list[Untagged]:
        return (await self.command("NOOP")).untagged

    async def logout(self) -> None:
        """Polite LOGOUT (short timeout, errors ignored), then close."""
        if self.closed:
            return
        try:
            async with self._lock:
                if self.closed:
                    return  # the command we waited for failed and closed the connection
                async with asyncio.timeout(min(self.timeout, 2.0)):
                    await self._exchange(("LOGOUT",))
        except (ImapError, OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.LimitOverrunError:
            pass
        finally:
            self.close()

    async def idle(self, timeout: float) -> list[Untagged]:
        """IDLE until the server reports something or ``timeout`` passes, then DONE."""
        if "IDLE" not in self.capabilities:
            raise ImapUnsupported("idle")
        async with self._lock:
            self._check_open()
            tag = self._next_tag()
            untagged: list[Untagged] = []

            async def start() -> Response | None:
                self._writer.write(tag + b" IDLE\r\n")
                return await self._wait_continuation(tag, untagged)

            early = await self._guarded(start())
            if early is not None:
                raise_for_status(early)
                return early.untagged
            line: bytes | None = None
            try:
                # Cancelling readuntil is safe: it consumes nothing until a whole line is in.
                async with asyncio.timeout(timeout):
                    line = await self._readline()
            except TimeoutError:
                pass
            except BaseException as exc:
                self.close()
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise _translate(exc) from None

            async def finish() -> Response:
                if line is not None:
                    frags, lits = await self._read_unit(line)
                    if not frags[0].startswith(b"* "):
                        raise ImapProtocolError("idle")
                    untagged.append(_parse_untagged(frags, lits))
                self._writer.write(b"DONE\r\n")
                return await self._read_until_tagged(tag, untagged)

            resp = await self._guarded(finish())
            return raise_for_status(resp).untagged

    # -- streaming ------------------------------------------------------------------------------

    def fetch_section_stream(
        self,
        uid: int,
        section: str,
        *,
        binary: bool,
        chunk_size: int = DEFAULT_CHUNK,
        on_done: Callable[[Response], None] | None = None,
    ) -> SectionStream:
        """Stream ``BINARY.PEEK[section]`` (or ``BODY.PEEK[section]``) as it arrives.

        Iterate it directly, or ``await`` it first to learn ``size`` and ``decoded`` before
        the first chunk. ``section=""`` is the whole raw message. ``on_done`` receives the
        tagged reply with every untagged response read around the literal (news about the
        mailbox) once the command has completed on a connection that stays usable.
        """
        return SectionStream(
            self, uid, section, binary=binary, chunk_size=chunk_size, on_done=on_done
        )


def _translate(exc: BaseException) -> BaseException:
    """Map low-level failures to our exceptions (never carrying their text)."""
    # SSL first: SSLCertVerificationError is also a ValueError
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ImapTlsError("cert_verify_failed")
    if isinstance(exc, ssl.SSLError):
        return ImapTlsError("tls_handshake_failed")
    if isinstance(exc, ImapError | asyncio.CancelledError | ValueError | TypeError):
        return exc
    if isinstance(exc, TimeoutError):
        return ImapUnavailable("timeout")
    if isinstance(exc, asyncio.IncompleteReadError):
        return ImapUnavailable("eof")
    if isinstance(exc, asyncio.LimitOverrunError):
        return ImapProtocolError("line_too_long")
    if isinstance(exc, ConnectionError):
        return ImapUnavailable("connection_lost")
    if isinstance(exc, OSError):
        return ImapUnavailable("connect_failed")
    return exc


class SectionStream(AsyncIterator[bytes]):
    """One FETCH literal relayed in bounded chunks while it arrives.

    Holds the connection lock from start until exhausted or closed. ``aclose()`` on a
    partly read stream drains the rest when small, otherwise closes the connection, so the
    connection is never left desynchronised. ``decoded`` tells whether the server decoded
    the content transfer encoding (BINARY) or the caller must (BODY fallback).
    """

    def __init__(
        self,
        conn: ImapConnection,
        uid: int,
        section: str,
        *,
        binary: bool,
        chunk_size: int,
        on_done: Callable[[Response], None] | None = None,
    ) -> None:
        if not (isinstance(uid, int) and uid > 0):
            raise ValueError("uid must be a positive integer")
        if not re.fullmatch(r"[0-9.]*(?:HEADER|TEXT|MIME)?", section, re.I):
            raise ValueError("invalid section")
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self._conn = conn
        self._uid = uid
        self._section = section
        self._binary = binary and "BINARY" in conn.capabilities
        self._chunk = chunk_size
        self._state = "new"  # new → body → done
        self._remaining = 0
        self._pending: bytes | None = None
        self._tag = b""
        self._locked = False
        self._on_done = on_done
        self._untagged: list[Untagged] = []  # read before and after the literal
        self.size: int | None = None
        self.decoded = False

    def __await__(self) -> Generator[Any, None, SectionStream]:
        return self._start().__await__()

    async def __aenter__(self) -> SectionStream:
        return await self._start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> SectionStream:
        return self

    async def _start(self) -> SectionStream:
        if self._state != "new":
            return self
        conn = self._conn
        await conn._lock.acquire()
        self._locked = True
        try:
            conn._check_open()
            found = await conn._guarded(self._begin(self._binary))
            if found is None:  # BINARY refused (unknown CTE): let the caller decode
                self._binary = False
                found = await conn._guarded(self._begin(False))
            if found is None:
                raise ImapNoError("no")
        except BaseException:
            self._release()
            raise
        return self

    async def _begin(self, binary: bool) -> bool | None:
        """Send the FETCH and read up to our literal's header.

        True: streaming the literal; False: done (data, if any, is in ``_pending``);
        None: BINARY failed with a NO and we should retry with BODY.PEEK.
        """
        conn = self._conn
        item = "BINARY" if binary else "BODY"
        key = b"%s[%s]" % (item.encode(), self._section.upper().encode())
        self._tag = conn._next_tag()
        conn._writer.write(
            b"%s UID FETCH %d (UID %s.PEEK[%s])\r\n"
            % (self._tag, self._uid, item.encode(), self._section.encode())
        )
        self.decoded = binary
        untagged = self._untagged  # kept across a BINARY → BODY retry
        prefix = self._tag + b" "
        while True:
            line = await conn._readline()
            if line.startswith(b"* ") and line.endswith(b"}\r\n"):
                m = _LIT_TAIL.search(line)
                head = line[: m.start()] if m else b""
                # pymap echoes "BINARY.PEEK[1]"; the RFC says "BINARY[1]": accept both
                head = head.upper().replace(b".PEEK[", b"[")
                if m and b" FETCH " in head and head.endswith(key + b" "):
                    self.size = self._remaining = int(m.group(1))
                    self._state = "body"
                    return True
            if line.startswith(prefix):
                resp = _parse_tagged(line[:-2], len(prefix), untagged)
                if resp.status == "NO" and binary and resp.code == "UNKNOWN-CTE":
                    return None
                self._report(resp)  # news counts whatever the outcome
                raise_for_status(resp)
                return self._from_untagged(untagged, key.decode())
            frags, lits = await conn._read_unit(line)
            if not frags[0].startswith(b"* "):
                raise ImapProtocolError("unexpected_line")
            untagged.append(_parse_untagged(frags, lits))

    def _from_untagged(self, untagged: list[Untagged], key: str) -> bool:
        """The section came inline (quoted or NIL) or not at all."""
        for u in untagged:
            if u.kind != "FETCH":
                continue
            items = fetch_items(u)
            if key in items and str(items.get("UID")) == str(self._uid):
                value = items[key]
                self._pending = value if isinstance(value, bytes) else b""
                self.size = len(self._pending)
                self._finish_state()
                return False
        raise ImapNoError("nonexistent")

    def _finish_state(self) -> None:
        self._state = "done"
        self._release()

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            self._conn._lock.release()

    async def __anext__(self) -> bytes:
        if self._state == "new":
            await self._start()
        if self._pending is not None:
            data, self._pending = self._pending, None
            if data:
                return data
        if self._state != "body":
            raise StopAsyncIteration
        if self._remaining == 0:
            await self._finish()
            raise StopAsyncIteration
        conn = self._conn
        try:
            async with asyncio.timeout(conn.timeout):
                chunk = await conn._reader.read(min(self._remaining, self._chunk))
        except BaseException as exc:
            self._abort()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _translate(exc) from None
        if not chunk:
            self._abort()
            raise ImapUnavailable("eof")
        self._remaining -= len(chunk)
        return chunk

    async def _finish(self) -> None:
        """Read the rest of the FETCH line and everything up to the tagged reply."""
        conn = self._conn
        try:

            async def tail() -> Response:
                frags, _lits = await conn._read_unit()
                if frags[0].startswith(self._tag + b" "):
                    raise ImapProtocolError("unexpected_tagged")
                return await conn._read_until_tagged(self._tag, self._untagged)

            self._report(await conn._guarded(tail()))
        finally:
            self._finish_state()

    def _report(self, resp: Response) -> None:
        if self._on_done is not None:
            on_done, self._on_done = self._on_done, None
            on_done(resp)

    def _abort(self) -> None:
        self._conn.close()
        self._finish_state()

    async def aclose(self) -> None:
        """Stop early: drain a small rest, else close the connection."""
        if self._state != "body":
            self._release()
            self._state = "done"
            return
        if self._remaining > _DRAIN_MAX:
            self._abort()
            return
        conn = self._conn
        try:
            async with asyncio.timeout(conn.timeout):
                while self._remaining:
                    data = await conn._reader.read(min(self._remaining, self._chunk))
                    if not data:
                        raise ImapUnavailable("eof")
                    self._remaining -= len(data)
            await self._finish()
        except BaseException as exc:
            self._abort()
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._release()

    def __del__(self) -> None:
        # Abandoned mid-literal without aclose(): the stream position is unknown.
        if self._locked:
            try:
                self._conn.close()
                self._release()
            except Exception:  # interpreter shutdown / loop gone
                pass
