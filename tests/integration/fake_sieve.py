"""A recording fake ManageSieve server for fault injection only (hostile or broken servers
that Dovecot cannot be made to imitate). It records every byte it receives, before and
after any TLS, so a test can prove no AUTHENTICATE or password reached it."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import trustme

from mailgate.testing.loop import LoopThread

__all__ = ["FakeSieve"]

_CAPS_PLAIN = b'"IMPLEMENTATION" "fake"\r\n"SASL" "PLAIN"\r\n"SIEVE" "fileinto vacation"\r\n'


class FakeSieve:
    """Modes:
    - "stripped": greets in plaintext without STARTTLS (a STARTTLS-stripping middlebox),
      offers SASL PLAIN and would accept any AUTHENTICATE.
    - "inject": offers STARTTLS and sends a forged line right after its OK, in the same
      segment (response injection).
    - "refuse": offers STARTTLS and answers it with NO.
    - "untrusted": implicit TLS with a certificate from a CA the client does not trust.
    - "untrusted_starttls": offers STARTTLS, then a certificate nobody trusts.
    - "trusted_starttls": a well-behaved STARTTLS server with a certificate from a CA
      written to ``ca_file`` (the control: it does get AUTHENTICATE).
    """

    def __init__(self, mode: str, workdir: Path) -> None:
        self.mode = mode
        self.received = bytearray()
        self.connections = 0
        self.ca_file: str | None = None
        ca = trustme.CA()
        if mode == "trusted_starttls":
            self.ca_file = str(workdir / "fake-sieve-ca.pem")
            ca.cert_pem.write_to_path(self.ca_file)
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost").configure_cert(self._ssl)
        self._server: asyncio.AbstractServer | None = None
        self._thread = LoopThread(f"fake-sieve-{mode}")
        self.port: int = self._thread.call(self._start())

    async def _start(self) -> int:
        ctx = self._ssl if self.mode == "untrusted" else None
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ctx)
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        starttls = self.mode != "stripped" and self.mode != "untrusted"
        try:
            writer.write(_CAPS_PLAIN + (b'"STARTTLS"\r\n' if starttls else b"") + b'OK "hi"\r\n')
            await writer.drain()
            while line := await reader.readline():
                self.received += line
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb == b"STARTTLS":
                    if self.mode == "refuse":
                        writer.write(b'NO "not today"\r\n')
                    elif self.mode == "inject":
                        writer.write(b'OK "begin"\r\nOK "injected"\r\n')
                        await writer.drain()
                        return
                    else:
                        writer.write(b'OK "begin"\r\n')
                        await writer.drain()
                        await writer.start_tls(self._ssl)
                        writer.write(_CAPS_PLAIN + b'OK "tls"\r\n')
                elif verb == b"AUTHENTICATE":
                    if line.rstrip().endswith(b"+}"):
                        size = int(line.rstrip()[:-2].rsplit(b"{", 1)[1])
                        self.received += await reader.readexactly(size + 2)
                    writer.write(b'OK "welcome"\r\n')
                elif verb == b"LOGOUT":
                    writer.write(b'OK "bye"\r\n')
                    await writer.drain()
                    return
                else:
                    writer.write(b'OK ""\r\n')
                await writer.drain()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def close(self) -> None:
        self._thread.call(self._stop())
        self._thread.close()
