"""Writing a streamed response to a reader who may stop reading.

A HEAD request runs the GET handler (aiohttp registers both), but aiohttp sends what a
`StreamResponse` writes even then: the chunks are dropped here, so HEAD gets the
headers only.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

__all__ = ["write_or_cut"]


async def write_or_cut(
    request: web.Request, response: web.StreamResponse, chunk: bytes, stall_s: float
) -> None:
    """Write one chunk; a reader that takes longer than ``stall_s`` to accept it is cut
    off (the connection closed, ConnectionResetError raised). Otherwise a reader that
    stops reading but keeps the connection open would hold what the download holds (the
    session's IMAP connection and its lock, a proxy slot) for good."""
    if request.method == "HEAD":
        return
    try:
        async with asyncio.timeout(stall_s):
            await response.write(chunk)
    except TimeoutError:
        if request.transport is not None:
            request.transport.close()
        raise ConnectionResetError("the reader stopped reading") from None
