"""Real SMTP servers on 127.0.0.1 for the submission tests (aiosmtpd + a scripted one).

Every server records the plaintext bytes it received (after TLS decryption),
so a test can prove that no AUTH command or password ever reached it.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from mailgate.tls import upstream_context

__all__ = [
    "PASSWORD",
    "USER",
    "Recorder",
    "ScriptedSmtpServer",
    "SmtpServer",
    "client_context",
    "run_smtp_server",
    "server_context",
]

USER = "alice@example.test"
PASSWORD = "correct horse \u00e9 battery"
HOST = "localhost"

Kind = Literal["tls", "starttls", "starttls_454", "plain"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_context(ca: trustme.CA, name: str = HOST) -> ssl.SSLContext:
    """A TLS server context with a certificate for `name` issued by `ca`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ca.issue_cert(name).configure_cert(ctx)
    return ctx


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """mailgate's verifying upstream context, trusting `ca`."""
    ctx = upstream_context()
    ca.configure_trust(ctx)
    return ctx


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Recorder:
    """Thread-safe log of what one server received."""

    raw: bytearray = field(default_factory=bytearray)
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, data: bytes) -> None:
        with self.lock:
            self.raw.extend(data)

    def commands(self) -> list[str]:
        """Command verbs in order (message content between DATA and "." skipped)."""
        verbs: list[str] = []
        in_data = False
        for line in bytes(self.raw).split(b"\r\n"):
            if in_data:
                in_data = line != b"."
                continue
            if line:
                verbs.append(line.split(b" ", 1)[0].decode("ascii", "replace").upper())
                in_data = verbs[-1] == "DATA"
        return verbs


class _RecordingSMTP(SMTP):
    def __init__(self, handler: Any, *, recorder: Recorder, reply_454: bool, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self._recorder = recorder
        self._reply_454 = reply_454

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if getattr(self, "_original_transport", None) is None:
            with self._recorder.lock:
                self._recorder.connections += 1
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._recorder.add(data)
        super().data_received(data)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self._reply_454:
            await self.push("454 4.7.0 TLS not available due to temporary reason")
            return
        await super().smtp_STARTTLS(arg)


class _Handler:
    def __init__(self, recorder: Recorder, refuse: frozenset[str]):
        self._recorder = recorder
        self._refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self._refuse:
            # Real servers (Postfix) echo the address; mailgate must mask it.
            return f"550 5.1.1 <{address}>: Recipient address rejected:\tUser unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self._recorder.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 Ok: queued"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    def __init__(self, handler: Any, *, recorder: Recorder, reply_454: bool, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self._recorder = recorder
        self._reply_454 = reply_454

    def factory(self) -> SMTP:
        return _RecordingSMTP(
            self.handler, recorder=self._recorder, reply_454=self._reply_454, **self.SMTP_kwargs
        )


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: Recorder


@contextmanager
def run_smtp_server(
    kind: Kind, ca: trustme.CA, *, cert_name: str = HOST, refuse: tuple[str, ...] = ()
) -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 with AUTH for USER/PASSWORD, stopped on exit.

    tls: implicit TLS; starttls: mandatory STARTTLS (AUTH only after it);
    starttls_454: advertises STARTTLS but answers 454; plain: no TLS at all and
    AUTH accepted in the clear (so a test can prove the client never tries).
    """
    recorder = Recorder()
    port = _free_port()
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "server_hostname": "mx.example.test",
        "authenticator": _authenticator,
        "enable_SMTPUTF8": False,
    }
    if kind == "tls":
        kwargs["ssl_context"] = server_context(ca, cert_name)
        # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; on an
        # implicit-TLS listener every byte is already encrypted.
        kwargs["auth_require_tls"] = False
    elif kind in ("starttls", "starttls_454"):
        kwargs["tls_context"] = server_context(ca, cert_name)
        kwargs["require_starttls"] = True
        kwargs["auth_require_tls"] = True
    else:
        kwargs["auth_require_tls"] = False
    controller = _Controller(
        _Handler(recorder, frozenset(a.lower() for a in refuse)),
        recorder=recorder,
        reply_454=kind == "starttls_454",
        **kwargs,
    )
    controller.start()
    # The controller's start-up probe connection sent nothing; start clean.
    with recorder.lock:
        recorder.connections = 0
        recorder.raw.clear()
    try:
        yield SmtpServer(HOST, port, recorder)
    finally:
        controller.stop()


class ScriptedSmtpServer:
    """A minimal asyncio SMTP server in the test's loop, for what aiosmtpd cannot do.

    - `inject=True`: answers STARTTLS with `220 Go ahead\\r\\n250 INJECTED\\r\\n`
      in one segment (SEC-42).
    - `sink=True`: hashes the DATA content instead of keeping it (memory test).
    Implicit TLS when `implicit=True`, else STARTTLS.
    """

    def __init__(
        self, ca: trustme.CA, *, implicit: bool = False, inject: bool = False, sink: bool = False
    ) -> None:
        self._ctx = server_context(ca)
        self._implicit = implicit
        self._inject = inject
        self._sink = sink
        self.host = HOST
        self.port = 0
        self.commands_after_tls: list[str] = []
        self.data_sha256: str | None = None
        self.data_length = 0
        self.content: bytes | None = None
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedSmtpServer:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=self._ctx if self._implicit else None
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = self._implicit
        try:
            writer.write(b"220 mx.example.test ESMTP\r\n")
            while line := await reader.readline():
                verb = line.split(b" ", 1)[0].strip().upper().decode("ascii", "replace")
                if tls:
                    self.commands_after_tls.append(verb)
                if verb == "EHLO":
                    caps = b"250-AUTH PLAIN\r\n" if tls else b"250-STARTTLS\r\n"
                    writer.write(b"250-mx.example.test\r\n250-SIZE 100000000\r\n" + caps)
                    writer.write(b"250 8BITMIME\r\n")
                elif verb == "STARTTLS" and not tls:
                    extra = b"250 INJECTED\r\n" if self._inject else b""
                    writer.write(b"220 Go ahead\r\n" + extra)
                    await writer.drain()
                    await writer.start_tls(self._ctx)
                    tls = True
                elif verb == "AUTH" and tls:
                    writer.write(b"235 2.7.0 Authentication successful\r\n")
                elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                    writer.write(b"250 Ok\r\n")
                elif verb == "DATA":
                    writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    await self._read_data(reader)
                    writer.write(b"250 2.0.0 Ok: queued\r\n")
                elif verb == "QUIT":
                    writer.write(b"221 Bye\r\n")
                    break
                else:
                    writer.write(b"502 5.5.1 Not implemented\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _read_data(self, reader: asyncio.StreamReader) -> None:
        digest = hashlib.sha256()
        kept: list[bytes] = []
        length = 0
        while True:
            line = await reader.readline()
            if line in (b".\r\n", b""):
                break
            if line.startswith(b"."):
                line = line[1:]  # undo dot-stuffing
            length += len(line)
            digest.update(line)
            if not self._sink:
                kept.append(line)
        self.data_sha256 = digest.hexdigest()
        self.data_length = length
        self.content = None if self._sink else b"".join(kept)
