"""All sessions' feeds: at most one upstream connection per session, shared by its tabs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from mailgate.config import ImapConfig, PushConfig
from mailgate.mail.imap.errors import ImapUnavailable
from mailgate.mail.pool import Credentials, ImapPool

from .feed import Listener, SessionFeed

__all__ = ["PushHub", "SessionGone", "Subscription"]

# How long a wiped session's id is remembered, to refuse a listen that raced the wipe.
_WIPE_MEMORY_S = 120.0


class SessionGone(Exception):
    """The session was wiped while its feed was being opened."""


class Subscription:
    """One listener on one feed; hand it back to `PushHub.unlisten`."""

    __slots__ = ("feed", "listener", "lookup")

    def __init__(self, lookup: str, feed: SessionFeed, listener: Listener):
        self.lookup = lookup
        self.feed = feed
        self.listener = listener


class PushHub:
    def __init__(self, pool: ImapPool, imap: ImapConfig, config: PushConfig):
        self._pool = pool
        self._imap = imap
        self._config = config
        self._feeds: dict[str, SessionFeed] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._wiped: dict[str, float] = {}

    async def listen(self, lookup: str, credentials: Callable[[], Credentials]) -> Subscription:
        """A listener on the session's feed, starting the feed if needed (ImapError,
        SessionGone)."""
        lock = self._locks.setdefault(lookup, asyncio.Lock())
        async with lock:
            feed = self._feeds.get(lookup)
            if feed is None or feed.ended:
                if feed is not None:
                    del self._feeds[lookup]
                    await feed.stop()
                feed = await self._start(credentials)
                if lookup in self._wiped:  # logged out while we were logging in
                    await feed.stop()
                    raise SessionGone()
                self._feeds[lookup] = feed
            return Subscription(lookup, feed, feed.listen())

    async def _start(self, credentials: Callable[[], Credentials]) -> SessionFeed:
        client = await self._pool.connect(credentials())
        feed = SessionFeed(client, self._config, self._imap.timeout_s)
        try:
            await feed.start()
        except TimeoutError:
            await feed.stop()
            raise ImapUnavailable("push start timed out") from None
        except BaseException:
            await feed.stop()
            raise
        return feed

    async def unlisten(self, subscription: Subscription) -> None:
        """Forget one listener; its feed stops with its last listener."""
        feed = subscription.feed
        if feed.unlisten(subscription.listener):
            if self._feeds.get(subscription.lookup) is feed:
                del self._feeds[subscription.lookup]
                self._forget_lock(subscription.lookup)
            await feed.stop()

    async def end(self, lookup: str) -> None:
        """The session is wiped: its feed stops, its listeners see the end."""
        now = time.monotonic()
        self._wiped = {k: t for k, t in self._wiped.items() if now - t < _WIPE_MEMORY_S}
        self._wiped[lookup] = now
        self._forget_lock(lookup)
        feed = self._feeds.pop(lookup, None)
        if feed is not None:
            await feed.stop()

    def _forget_lock(self, lookup: str) -> None:
        lock = self._locks.get(lookup)
        if lock is not None and not lock.locked():
            del self._locks[lookup]

    async def end_all(self) -> None:
        for lookup in list(self._feeds):
            await self.end(lookup)

    def open_count(self) -> int:
        return sum(1 for feed in self._feeds.values() if not feed.ended)
