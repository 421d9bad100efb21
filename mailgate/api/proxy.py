"""GET /api/proxy/image: a remote image, fetched for a live session that asked for it.

Requests come from the sandboxed mail frame, so they are cross-origin and carry no
cookie; the signed URL is the authority (SEC-62). They do not count as activity. The
answer is served with `Cross-Origin-Resource-Policy: cross-origin` (the frame's
`require-corp` needs it) and a CSP that makes the image inert if opened on its own.
Logs record the outcome only, never the URL.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from mailgate.errors import Forbidden, ImageUnavailable, NotFound, StoreUnavailable
from mailgate.http.streaming import write_or_cut
from mailgate.logs import log_event
from mailgate.proxy.fetch import ImageRefused
from mailgate.proxy.service import ImageProxy
from mailgate.proxy.signing import PROXY_PATH, SignatureInvalid
from mailgate.services import SERVICES, services
from mailgate.store.interface import StoreError

__all__ = ["image_proxy", "setup"]

IMAGE_CSP = "default-src 'none'; sandbox"


def image_proxy(app: web.Application) -> ImageProxy | None:
    """The proxy, or None when the operator has not enabled it."""
    return app[SERVICES].image_proxy


async def get_image(request: web.Request) -> web.StreamResponse:
    proxy = image_proxy(request.app)
    if proxy is None:
        raise NotFound("The image proxy is not enabled on this server.")
    try:
        signed = proxy.signer.verify(dict(request.query))
    except SignatureInvalid as exc:
        log_event("proxy_refused", logging.INFO, reason=str(exc))
        raise Forbidden() from None
    try:
        alive = await services(request).store.get(signed.lookup) is not None
    except StoreError:
        raise StoreUnavailable() from None
    if not alive:
        log_event("proxy_refused", logging.INFO, reason="session")
        raise Forbidden()
    return await _relay(request, proxy, signed.lookup, signed.url)


async def _relay(
    request: web.Request, proxy: ImageProxy, lookup: str, url: str
) -> web.StreamResponse:
    response: web.StreamResponse | None = None
    loop = asyncio.get_running_loop()
    stall = services(request).config.server.response_write_timeout_s
    try:
        # The image host has timeout_s in all (the wait for one of the session's fetch
        # slots included); time spent waiting for our reader is not counted against it.
        async with asyncio.timeout(proxy.config.timeout_s) as host_clock, proxy.slot(lookup):
            image = await proxy.fetcher.open(url)
            try:
                response = web.StreamResponse(
                    headers={
                        "Content-Security-Policy": IMAGE_CSP,
                        "Cross-Origin-Resource-Policy": "cross-origin",
                        "Content-Disposition": "inline",
                    }
                )
                response.content_type = image.content_type
                if image.length is not None:
                    response.content_length = image.length
                await response.prepare(request)
                async for chunk in image.chunks():
                    # The host's clock stops while the reader takes the chunk.
                    began, deadline = loop.time(), host_clock.when()
                    host_clock.reschedule(None)
                    await write_or_cut(request, response, chunk, stall)
                    if deadline is not None:
                        host_clock.reschedule(deadline + loop.time() - began)
            finally:
                image.release()
    except (ImageRefused, TimeoutError) as exc:
        reason = exc.reason if isinstance(exc, ImageRefused) else "timeout"
        log_event("proxy_refused", logging.INFO, reason=reason)
        if response is None or not response.prepared:
            raise ImageUnavailable() from None
        # Headers are out: cut the connection so the browser sees a broken image,
        # never a truncated one that looks complete.
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    log_event("proxy_served", logging.INFO)
    return response


def setup(app: web.Application) -> None:
    # Registered even when the proxy is off, so the answer is a clear 404.
    app.router.add_get(PROXY_PATH, get_image)
