"""A hostile-or-honest remote image host for the privacy-proxy tests: HTTPS on 127.0.0.1
with its own CA, recording exactly what each request revealed about the reader."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

__all__ = ["PNG", "ImageServer"]


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG = _png_1x1()
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


# PNG's first bytes (all the proxy sniffs) and then 24 MiB: far more than the loopback
# socket buffers and the client's read buffer hold, so the proxy must wait for its reader.
LARGE_IMAGE = PNG[:16] + bytes(range(256)) * (96 * 1024)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    peer: str


@dataclass
class ImageServer:
    """Start with `await server.start(tmp_path)`; `url(path)` names a resource on it."""

    seen: list[Seen] = field(default_factory=list)
    huge_bytes_sent: int = 0
    huge_completed: bool = False
    port: int = 0
    ca_file: str = ""
    _runner: web.AppRunner | None = None

    async def start(self, folder: Path) -> ImageServer:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", "images.test")
        self.ca_file = str(folder / "image-ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        app = web.Application()
        app.router.add_get("/{name:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}/{path.lstrip('/')}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        peer = request.transport.get_extra_info("peername")[0] if request.transport else ""
        self.seen.append(Seen(name, dict(request.headers), peer))
        handler = getattr(self, "_" + name.split(".")[0].replace("-", "_"), None)
        if handler is None:
            return web.Response(status=404)
        return await handler(request)

    async def _pixel(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=PNG, content_type="image/png")

    async def _anim(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=GIF, content_type="image/gif")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="<h1>hello</h1>", content_type="text/html")

    async def _liar(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"<html><script>x()</script></html>", content_type="image/png")

    async def _vector(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=SVG, content_type="image/svg+xml")

    async def _zipped(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(PNG), content_type="image/png", headers={"Content-Encoding": "gzip"}
        )

    async def _large(self, request: web.Request) -> web.StreamResponse:
        """A PNG of LARGE_IMAGE bytes, all sent at once (a fast host, a big picture)."""
        return web.Response(body=LARGE_IMAGE, content_type="image/png")

    async def _declared_huge(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        resp.content_length = 50 * 1024 * 1024
        await resp.prepare(request)
        await resp.write(PNG[:16])
        return resp

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        """A PNG that never ends (50 MiB, chunked): the proxy must stop at its cap."""
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        block = b"\0" * 65536
        try:
            await resp.write(PNG[:16])
            for _ in range(800):
                await resp.write(block)
                # aiohttp buffers writes without bound; count only what the network took.
                # A write to a reset connection is dropped silently until the loop has run
                # connection_lost, so yield every time, as a real sender would.
                await asyncio.sleep(0)
                while (transport := request.transport) is not None and (
                    transport.get_write_buffer_size() > 256 * 1024
                ):
                    await asyncio.sleep(0.002)
                if request.transport is None or request.transport.is_closing():
                    raise ConnectionResetError("peer went away")
                self.huge_bytes_sent += len(block)
            self.huge_completed = True
        except (ConnectionError, asyncio.CancelledError):
            pass
        return resp

    async def _short(self, request: web.Request) -> web.StreamResponse:
        """Promises 100 kB, sends a few bytes, hangs up."""
        return await self._hang_up_after(request, PNG[:5])

    async def _short_later(self, request: web.Request) -> web.StreamResponse:
        """Promises 100 kB, sends a real start and 20 kB, hangs up."""
        return await self._hang_up_after(request, PNG[:16] + b"\0" * 20_000)

    async def _hang_up_after(self, request: web.Request, data: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        resp.content_length = 100_000
        await resp.prepare(request)
        await resp.write(data)
        await asyncio.sleep(0.1)
        if request.transport is not None:
            request.transport.close()
        return resp

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.Response(body=PNG, content_type="image/png")

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        await resp.prepare(request)
        try:
            for byte in PNG * 50:
                await resp.write(bytes([byte]))
                await asyncio.sleep(0.2)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return resp

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        # Location exactly as given, even when it is not a valid URL.
        return web.Response(status=302, headers={"Location": request.query["to"]})

    async def _loop(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/loop.png")

    def requests_for(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


def as_dict(seen: Seen) -> dict[str, Any]:
    return {"path": seen.path, "headers": seen.headers}
