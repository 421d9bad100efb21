"""Servers for the IMAP client tests: a real pymap (STARTTLS) and a scripted fake for faults.

Dovecot comes from ``tests/servers/dovecot.py``. Everything binds to 127.0.0.1 on free ports
and is stopped by the PID / handle we started.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from tests.servers.ports import free_port, wait_for_port

__all__ = ["FakeImap", "Pymap", "fake_imap", "running_pymap"]

PYMAP = str(Path(sys.executable).with_name("pymap"))


@dataclass
class Pymap:
    """A running pymap (dict backend, demo data) offering STARTTLS on ``port``."""

    port: int
    ca: trustme.CA
    ca_file: str
    host: str = "localhost"
    user: str = "demouser"
    password: str = "demopass"

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


@contextlib.contextmanager
def running_pymap() -> Iterator[Pymap]:
    """Start ``pymap ... dict --demo-data`` with a trustme certificate for localhost."""
    root = Path(tempfile.mkdtemp(prefix="mailgate-pymap-"))
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = root / "cert.pem", root / "key.pem", root / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    cmd = [PYMAP, "--host", "127.0.0.1", "--port", str(port), "--cert", str(cert_file)]
    cmd += ["--key", str(key_file), "dict", "--demo-data"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20)
        yield Pymap(port=port, ca=ca, ca_file=str(ca_file))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class FakeImap:
    """A scripted IMAP server: ``greeting`` then ``reply(tag, line)`` per command line.

    ``received`` records every byte the client sent (after TLS, if any). A reply of None
    closes the connection. Literals announced by the client are read and recorded.
    """

    greeting: bytes
    reply: Callable[[bytes, bytes], bytes | None]
    server_ctx: ssl.SSLContext | None = None
    received: bytearray = field(default_factory=bytearray)
    port: int = 0
    host: str = "localhost"
    lines: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(self.greeting)
            await writer.drain()
            while True:
                line = first = await reader.readuntil(b"\r\n")
                self.received += line
                # read (and record) literals so a command is one logical line
                while line.endswith(b"}\r\n"):
                    size = line[:-3].rpartition(b"{")[2]
                    sync = not size.endswith(b"+")
                    if sync:
                        writer.write(b"+ go ahead\r\n")
                        await writer.drain()
                    data = await reader.readexactly(int(size.rstrip(b"+")))
                    self.received += data
                    line = await reader.readuntil(b"\r\n")
                    self.received += line
                self.lines.append(first)
                tag = first.split(b" ", 1)[0]
                out = self.reply(tag, first)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
                if out.startswith(b"* BYE"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def fake_imap(
    greeting: bytes,
    reply: Callable[[bytes, bytes], bytes | None],
    *,
    server_ctx: ssl.SSLContext | None = None,
) -> AsyncIterator[FakeImap]:
    """Run a :class:`FakeImap` on 127.0.0.1 (implicit TLS when ``server_ctx`` is given)."""
    fake = FakeImap(greeting, reply, server_ctx)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0, ssl=server_ctx)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()
        await server.wait_closed()
