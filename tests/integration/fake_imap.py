"""A recording fake IMAP server for fault injection only (hostile or broken servers that
a real server cannot be made to imitate). It records every byte it receives."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from pathlib import Path

import trustme

from mailgate.testing.loop import LoopThread

__all__ = ["FakeImap"]


class FakeImap:
    """Modes:
    - "plain": greets in plaintext, offers no STARTTLS, accepts LOGIN.
    - "preauth": greets `* PREAUTH` in plaintext.
    - "inject": offers STARTTLS, and sends a forged line right after its OK, in the same
      segment (response injection).
    - "untrusted": implicit TLS with a certificate from a CA the client does not trust.
    - "hang": accepts the connection and never says anything.
    - "tls11": implicit TLS capped at TLS 1.1 (legacy suites allowed), with a certificate
      from a CA written to `ca_file`: trusted, so only the protocol version can fail.
    """

    def __init__(self, mode: str, workdir: Path):
        self.mode = mode
        self.received = bytearray()
        self.connections = 0
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._ssl: ssl.SSLContext | None = None
        self.ca_file: str | None = None
        if mode in ("untrusted", "inject"):
            ca = trustme.CA()  # nobody trusts this CA
            cert = ca.issue_cert("localhost")
            self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            cert.configure_cert(self._ssl)
        elif mode == "tls11":
            self._ssl, self.ca_file = _tls11_context(workdir)
        self._thread = LoopThread(f"fake-imap-{mode}")
        self.port = self._thread.call(self._start())

    async def _start(self) -> int:
        ctx = self._ssl if self.mode in ("untrusted", "tls11") else None
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ctx)
        return self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            if self.mode == "hang":
                self.received += await reader.read(65536)
                await asyncio.sleep(3600)
            if self.mode == "preauth":
                writer.write(b"* PREAUTH [CAPABILITY IMAP4rev1] logged in\r\n")
            elif self.mode == "plain":
                writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
            elif self.mode == "inject":
                writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
            else:
                writer.write(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
            await writer.drain()
            while line := await reader.readline():
                self.received += line
                tag, _, rest = line.partition(b" ")
                command = rest.split(b" ", 1)[0].strip().upper()
                if command == b"CAPABILITY":
                    caps = (
                        b"IMAP4rev1 STARTTLS" if self.mode == "inject" else b"IMAP4rev1 AUTH=PLAIN"
                    )
                    writer.write(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
                elif command == b"STARTTLS" and self.mode == "inject":
                    writer.write(tag + b" OK begin TLS\r\n* BYE injected\r\n")
                    await writer.drain()
                    return
                elif command == b"LOGOUT":
                    writer.write(b"* BYE\r\n" + tag + b" OK bye\r\n")
                    await writer.drain()
                    return
                else:
                    writer.write(tag + b" OK whatever\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # A "hang" handler sleeps for an hour: end it while its loop still runs.
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def close(self) -> None:
        # The server belongs to its loop: close it there, not from the test's thread.
        self._thread.call(self._stop())
        self._thread.close()


def _tls11_context(workdir: Path) -> tuple[ssl.SSLContext, str]:
    """A server context that speaks at most TLS 1.1; ssl.SSLError if OpenSSL cannot."""
    ca = trustme.CA()
    ca_file = workdir / "fake-imap-tls11-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(ctx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point here
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    # TLS 1.1 has no AEAD suite: the legacy ones need security level 0.
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx, str(ca_file)
