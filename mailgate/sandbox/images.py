"""A local HTTPS image host for the demo's newsletters, so "Load remote images" can be
tried without the internet: the images travel through mailgate's privacy proxy from
here, as they would from a real sender's server.

It serves a few generated PNG and GIF images on 127.0.0.1 with a certificate from the
sandbox CA, and counts requests per path (no addresses, no headers).
"""

from __future__ import annotations

import functools
import socket
import ssl
import struct
import zlib
from collections import Counter

from aiohttp import web

__all__ = ["SandboxImageHost", "images"]


def _png(width: int, height: int, pixel: tuple[int, int, int] | None = None) -> bytes:
    """A PNG: one colour, or (pixel None) a sunset gradient with a row of tents."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            if pixel is not None:
                rows += bytes(pixel)
                continue
            # Sky from orange to purple; tents are triangles on the lower half.
            sky = (250 - y * 120 // height, 140 - y * 60 // height, 60 + y * 120 // height)
            tent_x = x % 96
            in_tent = y > height // 2 and abs(tent_x - 48) < (y - height // 2) * 48 // (height // 2)
            rows += bytes((40, 110, 60) if in_tent else sky)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


# A 1x1 transparent GIF: what a tracking pixel looks like.
_PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@functools.cache
def images() -> dict[str, tuple[str, bytes]]:
    """path -> (content type, bytes), made once on first use."""
    return {
        "/shop/banner.png": ("image/png", _png(480, 160)),
        "/shop/logo.png": ("image/png", _png(48, 48, (40, 110, 60))),
        "/track/p.gif": ("image/gif", _PIXEL_GIF),
    }


class SandboxImageHost:
    """HTTPS on 127.0.0.1 (a free port); `url(path)` names an image on it."""

    host = "127.0.0.1"

    def __init__(self, ssl_context: ssl.SSLContext, *, port: int = 0) -> None:
        self._ssl = ssl_context
        self.port = port
        self.requests: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"https://{self.host}:{self.port}{path}"

    async def _serve(self, request: web.Request) -> web.Response:
        found = images().get(request.path)
        if found is None:
            raise web.HTTPNotFound()
        self.requests[request.path] += 1
        content_type, body = found
        return web.Response(body=body, content_type=content_type)

    async def start(self) -> None:
        images()
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)  # HEAD too
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        if self.port == 0:
            # Bind first, so the port is known before the site starts on that socket.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((self.host, 0))
            self.port = sock.getsockname()[1]
            site: web.BaseSite = web.SockSite(self._runner, sock, ssl_context=self._ssl)
        else:
            site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
