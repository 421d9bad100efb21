"""A small ManageSieve (RFC 5804) connection on asyncio streams.

Same refusal rules as the IMAP client (mailgate/mail/imap/protocol.py): implicit TLS or
mandatory STARTTLS, certificate and host name verified by the caller's context, no
authentication unless the transport really is TLS, and bytes the server sent after its
STARTTLS "OK" but before the handshake (an injection) refuse the connection. mailgate opens
one short connection per request, so this class has no lock: one command at a time.

Wire format: a response is zero or more data lines, then ``OK`` / ``NO`` / ``BYE`` with an
optional ``(CODE …)`` and an optional human-readable string. Strings are quoted
(``"…"`` with ``\\`` escapes) or literals (``{n}`` or ``{n+}`` then CRLF and n bytes).
Everything we send that is data (script names, scripts, SASL) goes as a non-synchronizing
literal ``{n+}``, which RFC 5804 servers must accept, so no user byte is ever parsed as
syntax.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import ssl
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .errors import (
    SieveAuthError,
    SieveError,
    SieveProtocolError,
    SieveRefused,
    SieveTlsError,
    SieveUnavailable,
)
from .sasl import SaslMechanism

__all__ = [
    "Capabilities",
    "Response",
    "ScriptInfo",
    "Security",
    "SieveConnection",
    "Token",
    "sanitize_server_text",
]

Security = Literal["tls", "starttls"]
#: Atoms are ``str``, strings (quoted or literal) ``bytes``, parenthesized codes ``list``.
Token = str | bytes | list["Token"]
Status = Literal["OK", "NO", "BYE"]
_STATUSES: dict[str, Status] = {"OK": "OK", "NO": "NO", "BYE": "BYE"}

_READER_LIMIT = 64 * 1024
#: Longest response line (scripts travel as literals, not in lines).
_LINE_LIMIT = 64 * 1024
#: Largest literal we accept: a script, or a long error message.
MAX_LITERAL = 1024 * 1024
_LITERAL_TAIL = re.compile(rb"\{(\d{1,10})\+?\}\Z")
_ATOM = re.compile(rb"[^\s()\"{}]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]+")
_SERVER_TEXT_MAX = 2000


def sanitize_server_text(text: str) -> str:
    """The server's message as plain text to show a user: no controls, bounded length."""
    cleaned = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    return cleaned.strip()[:_SERVER_TEXT_MAX]


@dataclass(slots=True)
class Response:
    """A complete response: its data lines and the final status line."""

    status: Status
    code: list[Token] = field(default_factory=list)
    text: str = ""
    lines: list[list[Token]] = field(default_factory=list)

    @property
    def code_name(self) -> str | None:
        if self.code and isinstance(self.code[0], str):
            return self.code[0].upper()
        return None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the server announced (RFC 5804 section 1.7), names upper case."""

    implementation: str = ""
    sasl: frozenset[str] = frozenset()
    sieve: frozenset[str] = frozenset()
    starttls: bool = False
    max_redirects: int | None = None
    version: str = ""

    @classmethod
    def from_lines(cls, lines: Sequence[Sequence[Token]]) -> Capabilities:
        values: dict[str, str] = {}
        for line in lines:
            if not line or not isinstance(line[0], bytes):
                raise SieveProtocolError("capability")
            name = line[0].decode("utf-8", "replace").upper()
            value = line[1] if len(line) > 1 and isinstance(line[1], bytes) else b""
            values[name] = value.decode("utf-8", "replace")
        try:
            max_redirects = int(values["MAXREDIRECTS"]) if "MAXREDIRECTS" in values else None
        except ValueError:
            max_redirects = None
        return cls(
            implementation=values.get("IMPLEMENTATION", ""),
            sasl=frozenset(values.get("SASL", "").upper().split()),
            sieve=frozenset(values.get("SIEVE", "").lower().split()),
            starttls="STARTTLS" in values,
            max_redirects=max_redirects,
            version=values.get("VERSION", ""),
        )


@dataclass(frozen=True, slots=True)
class ScriptInfo:
    name: str
    active: bool


class SieveConnection:
    """One ManageSieve connection. Use :meth:`open`, then :meth:`authenticate`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.timeout = timeout
        self._closed = False
        self.capabilities = Capabilities()

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        security: Security,
        ssl_context: ssl.SSLContext,
        *,
        timeout: float,
    ) -> SieveConnection:
        """Connect with implicit TLS or mandatory STARTTLS and read the capabilities."""
        if security not in ("tls", "starttls"):
            raise ValueError("security must be 'tls' or 'starttls'")
        if not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError("an ssl.SSLContext is required")
        if ssl_context.verify_mode != ssl.CERT_REQUIRED or not ssl_context.check_hostname:
            # There is no "accept anyway": a non-verifying context is a bug.
            raise ValueError("the upstream TLS context must verify the certificate and host")
        conn: SieveConnection | None = None
        try:
            async with asyncio.timeout(timeout):
                if security == "tls":
                    reader, writer = await asyncio.open_connection(
                        host,
                        port,
                        ssl=ssl_context,
                        server_hostname=host,
                        ssl_handshake_timeout=timeout,
                        limit=_READER_LIMIT,
                    )
                else:
                    reader, writer = await asyncio.open_connection(host, port, limit=_READER_LIMIT)
                conn = cls(reader, writer, timeout)
                await conn._handshake(host, security, ssl_context)
                return conn
        except BaseException as exc:
            if conn is not None:
                conn.close()
            raise _translate(exc) from None

    async def _handshake(self, host: str, security: Security, ctx: ssl.SSLContext) -> None:
        greeting = await self._read_response()
        if greeting.status != "OK":
            raise SieveUnavailable("bye")
        caps = Capabilities.from_lines(greeting.lines)
        if security == "starttls":
            if not caps.starttls:
                raise SieveTlsError("no_starttls")
            self._writer.write(b"STARTTLS\r\n")
            resp = await self._read_response()
            if resp.status != "OK":
                raise SieveTlsError("starttls_refused")
            # Bytes already buffered after the OK were sent before TLS: an injection.
            if self._buffered():
                raise SieveTlsError("starttls_injection")
            await self._writer.start_tls(ctx, server_hostname=host, ssl_handshake_timeout=None)
            # RFC 5804 2.2: the server re-issues its capabilities over TLS; the plaintext
            # ones are discarded.
            after = await self._read_response()
            if after.status != "OK":
                raise SieveUnavailable("bye")
            caps = Capabilities.from_lines(after.lines)
        self.capabilities = caps

    def _buffered(self) -> int:
        # StreamReader has no public "bytes pending" accessor; its buffer is a bytearray.
        buffer = getattr(self._reader, "_buffer", None)
        return len(buffer) if buffer is not None else 0

    @property
    def is_tls(self) -> bool:
        return self._writer.get_extra_info("ssl_object") is not None

    # -- state --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed or self._writer.is_closing()

    def close(self) -> None:
        self._closed = True
        self._writer.close()

    # -- reading ------------------------------------------------------------------------------

    async def _readline(self) -> bytes:
        try:
            line = await self._reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise SieveProtocolError("line_too_long") from None
        if len(line) > _LINE_LIMIT:
            raise SieveProtocolError("line_too_long")
        return line[:-2]

    async def _read_tokens(self) -> list[Token]:
        """One logical line (with its literals) as tokens."""
        tokens: list[Token] = []
        stack: list[list[Token]] = []
        current = tokens
        line = await self._readline()
        while True:
            tail = _LITERAL_TAIL.search(line)
            body = line[: tail.start()] if tail else line
            current = _scan(body, current, stack)
            if tail is None:
                break
            size = int(tail.group(1))
            if size > MAX_LITERAL:
                raise SieveProtocolError("literal_too_large")
            current.append(await self._reader.readexactly(size))
            line = await self._readline()
        if stack:
            raise SieveProtocolError("unbalanced")
        return tokens

    async def _read_line_or_status(self) -> tuple[list[Token], Response | None]:
        tokens = await self._read_tokens()
        first = tokens[0] if tokens else None
        status = _STATUSES.get(first.upper()) if isinstance(first, str) else None
        if status is not None:
            rest = tokens[1:]
            code: list[Token] = []
            if rest and isinstance(rest[0], list):
                code, rest = rest[0], rest[1:]
            text = ""
            if rest and isinstance(rest[0], bytes):
                text = rest[0].decode("utf-8", "replace")
            return tokens, Response(status, code, text)
        return tokens, None

    async def _read_response(self) -> Response:
        lines: list[list[Token]] = []
        while True:
            tokens, final = await self._read_line_or_status()
            if final is not None:
                final.lines = lines
                return final
            if len(lines) > 10_000:
                raise SieveProtocolError("too_many_lines")
            lines.append(tokens)

    # -- commands -----------------------------------------------------------------------------

    async def _guarded(self, coro: Awaitable[Response]) -> Response:
        try:
            async with asyncio.timeout(self.timeout):
                return await coro
        except BaseException as exc:
            self.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _translate(exc) from None

    async def _run(self, verb: str, *args: bytes) -> Response:
        if self.closed:
            raise SieveUnavailable("closed")
        wire = bytearray(verb.encode("ascii"))
        for arg in args:
            wire += b" {%d+}\r\n" % len(arg) + arg
        wire += b"\r\n"
        self._writer.write(bytes(wire))
        resp = await self._guarded(self._read_response())
        if resp.status == "BYE":
            self.close()
            raise SieveUnavailable("bye")
        return resp

    async def command(self, verb: str, *args: bytes) -> Response:
        """Run a command; NO raises SieveRefused carrying the server's message."""
        resp = await self._run(verb, *args)
        if resp.status == "NO":
            code = resp.code_name
            raise SieveRefused(
                (code or "no").lower().replace("/", "_"),
                code,
                sanitize_server_text(resp.text),
            )
        return resp

    async def authenticate(self, mechanism: SaslMechanism) -> None:
        """AUTHENTICATE with ``mechanism``; refused unless the connection is TLS."""
        if not self.is_tls:
            raise SieveTlsError("not_tls")
        if mechanism.name.upper() not in self.capabilities.sasl:
            raise SieveAuthError("mechanism_unavailable")
        initial = base64.b64encode(mechanism.initial_response())
        self._writer.write(
            b'AUTHENTICATE "%s" {%d+}\r\n%s\r\n' % (mechanism.name.encode(), len(initial), initial)
        )
        for _ in range(10):
            tokens, final = await self._guarded_line()
            if final is not None:
                if final.status == "OK":
                    return
                if final.status == "BYE":
                    self.close()
                raise SieveAuthError("refused")
            challenge = _challenge(tokens)
            answer = mechanism.respond(challenge)
            if answer is None:
                self._writer.write(b'"*"\r\n')
            else:
                encoded = base64.b64encode(answer)
                self._writer.write(b"{%d+}\r\n%s\r\n" % (len(encoded), encoded))
        self.close()
        raise SieveProtocolError("sasl_loop")

    async def _guarded_line(self) -> tuple[list[Token], Response | None]:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._read_line_or_status()
        except BaseException as exc:
            self.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise _translate(exc) from None

    async def list_scripts(self) -> list[ScriptInfo]:
        resp = await self.command("LISTSCRIPTS")
        scripts = []
        for line in resp.lines:
            if not line or not isinstance(line[0], bytes):
                raise SieveProtocolError("listscripts")
            active = len(line) > 1 and isinstance(line[1], str) and line[1].upper() == "ACTIVE"
            scripts.append(ScriptInfo(line[0].decode("utf-8", "replace"), active))
        return scripts

    async def get_script(self, name: str) -> str:
        resp = await self.command("GETSCRIPT", _name(name))
        if len(resp.lines) != 1 or not resp.lines[0] or not isinstance(resp.lines[0][0], bytes):
            raise SieveProtocolError("getscript")
        return resp.lines[0][0].decode("utf-8", "replace")

    async def put_script(self, name: str, script: str) -> None:
        await self.command("PUTSCRIPT", _name(name), script.encode("utf-8"))

    async def check_script(self, script: str) -> None:
        await self.command("CHECKSCRIPT", script.encode("utf-8"))

    async def set_active(self, name: str) -> None:
        await self.command("SETACTIVE", _name(name))

    async def logout(self) -> None:
        """Polite LOGOUT (short timeout, errors ignored), then close."""
        if self.closed:
            return
        try:
            self._writer.write(b"LOGOUT\r\n")
            async with asyncio.timeout(min(self.timeout, 2.0)):
                await self._read_response()
        except (SieveError, OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()


def _name(name: str) -> bytes:
    # RFC 5804 1.6: script names are UTF-8 without controls.
    if not name or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise ValueError("a script name cannot be empty or contain control characters")
    return name.encode("utf-8")


def _challenge(tokens: list[Token]) -> bytes:
    if len(tokens) != 1 or not isinstance(tokens[0], bytes):
        raise SieveProtocolError("sasl_challenge")
    try:
        return base64.b64decode(tokens[0], validate=True)
    except (binascii.Error, ValueError):
        raise SieveProtocolError("sasl_challenge") from None


def _scan(body: bytes, current: list[Token], stack: list[list[Token]]) -> list[Token]:
    """Tokenize one line fragment into ``current`` (returned: the open list at its end)."""
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == 0x20:
            i += 1
        elif ch == 0x28:  # (
            inner: list[Token] = []
            current.append(inner)
            stack.append(current)
            current = inner
            i += 1
        elif ch == 0x29:  # )
            if not stack:
                raise SieveProtocolError("unbalanced")
            current = stack.pop()
            i += 1
        elif ch == 0x22:  # "
            out = bytearray()
            i += 1
            while True:
                if i >= n:
                    raise SieveProtocolError("unterminated_string")
                c = body[i]
                if c == 0x5C and i + 1 < n:
                    out.append(body[i + 1])
                    i += 2
                elif c == 0x22:
                    i += 1
                    break
                else:
                    out.append(c)
                    i += 1
            current.append(bytes(out))
        else:
            m = _ATOM.match(body, i)
            if m is None:
                raise SieveProtocolError("unexpected_byte")
            current.append(m.group().decode("ascii", "replace"))
            i = m.end()
    return current


def _translate(exc: BaseException) -> BaseException:
    """Map low-level failures to our exceptions (never carrying their text)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SieveTlsError("cert_verify_failed")
    if isinstance(exc, ssl.SSLError):
        return SieveTlsError("tls_handshake_failed")
    if isinstance(exc, SieveError | asyncio.CancelledError | ValueError | TypeError):
        return exc
    if isinstance(exc, TimeoutError):
        return SieveUnavailable("timeout")
    if isinstance(exc, asyncio.IncompleteReadError):
        return SieveUnavailable("eof")
    if isinstance(exc, ConnectionError):
        return SieveUnavailable("connection_lost")
    if isinstance(exc, OSError):
        return SieveUnavailable("connect_failed")
    return exc
