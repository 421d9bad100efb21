"""GET /api/events: Server-Sent Events with the INBOX counts whenever they change.

Not activity: an open tab never keeps a session alive. The stream ends when the session
is wiped (logout, expiry, shutdown) or its upstream connection drops; a browser's
EventSource then reconnects with its cookie and gets 401 once the session is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import web

from mailgate.errors import AuthRequired
from mailgate.logs import log_event
from mailgate.mail.imap.errors import ImapError
from mailgate.mail.pool import map_imap_error
from mailgate.push.feed import MailboxCounts
from mailgate.push.hub import SessionGone
from mailgate.services import services
from mailgate.store.interface import StoreError

from .auth import require_session

__all__ = ["setup"]

# Tells EventSource how long to wait before reconnecting after the stream ends.
_RETRY_MS = 5000
_QUIET = object()  # nothing arrived before the next keep-alive was due


def _event(counts: MailboxCounts) -> bytes:
    data = json.dumps(counts.as_json(), separators=(",", ":"))
    return f"event: mailbox\ndata: {data}\n\n".encode()


async def events(request: web.Request) -> web.StreamResponse:
    session = await require_session(request, activity=False)
    headers = {"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    if request.method == "HEAD":
        return web.Response(headers=headers)  # the stream's headers; no feed is opened
    svc = services(request)
    hub = svc.push_hub
    try:
        subscription = await hub.listen(session.lookup, session.credentials)
    except ImapError as exc:
        raise map_imap_error(exc) from None
    except SessionGone:
        raise AuthRequired() from None
    listener = subscription.listener
    lookup = session.lookup
    del session  # nothing of the session's secrets stays with the open stream
    response = web.StreamResponse(headers=headers)
    try:
        await response.prepare(request)
        await response.write(f"retry: {_RETRY_MS}\n\n".encode())
        log_event("push_opened", logging.INFO)
        loop = asyncio.get_running_loop()
        every = svc.config.push.keepalive_s
        due = loop.time() + every
        while True:
            item: MailboxCounts | object | None
            try:
                async with asyncio.timeout_at(due):
                    item = await listener.get()
            except TimeoutError:
                item = _QUIET
            if loop.time() >= due:
                # However busy the stream, look now and then whether the session still
                # exists: another instance, or the store's own expiry, may have wiped it.
                try:
                    if await svc.store.get(lookup) is None:
                        break
                except StoreError:
                    break  # the store is down: the stream ends, the browser reconnects
                due = loop.time() + every
                if item is _QUIET:
                    await response.write(b": keep-alive\n\n")
            if item is _QUIET:
                continue
            if not isinstance(item, MailboxCounts):
                break  # the feed ended
            await response.write(_event(item))
    except ConnectionError:
        pass  # the reader went away
    finally:
        await hub.unlisten(subscription)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/api/events", events)
