"""All sessions' feeds: at most one upstream connection per session, shared by its tabs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from mailgate.config import ImapConfig, PushConfig
from mailgate.mail.imap.errors import ImapUnavailable
from mailgate.mail.pool import Credentials, ImapPool

from .feed import Listener, SessionFeed

__all__ = ["PushHub", "SessionGone", "Subscription"]


class SessionGone(Exception):
    """The session was wiped while its feed was being opened."""


class Subscription:
    """One listener on one feed; hand it back to `PushHub.unlisten`."""

    __slots__ = ("feed", "listener", "lookup")

    def __init__(self, lookup: str, feed: SessionFeed, listener: Listener):
        self.lookup = lookup
        self.feed = feed
        self.listener = listener


@dataclass
class _Opening:
    """The listens of one session under way: they open its feed one at a time."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    wiped: bool = False  # the session ended meanwhile: no feed may be kept for it


class PushHub:
    def __init__(self, pool: ImapPool, imap: ImapConfig, config: PushConfig):
        self._pool = pool
        self._imap = imap
        self._config = config
        self._feeds: dict[str, SessionFeed] = {}
        # Only while a listen is under way, so nothing here outlives it.
        self._opening: dict[str, _Opening] = {}

    async def listen(self, lookup: str, credentials: Callable[[], Credentials]) -> Subscription:
        """A listener on the session's feed, starting the feed if needed (ImapError,
        SessionGone)."""
        opening = self._opening.setdefault(lookup, _Opening())
        opening.waiting += 1
        try:
            async with opening.lock:
                if opening.wiped:
                    raise SessionGone()
                feed = self._feeds.get(lookup)
                if feed is None or feed.ended:
                    if feed is not None:
                        del self._feeds[lookup]
                        await feed.stop()
                    feed = await self._start(credentials)
                    if opening.wiped:  # logged out while we were logging in
                        await feed.stop()
                        raise SessionGone()
                    self._feeds[lookup] = feed
                return Subscription(lookup, feed, feed.listen())
        finally:
            opening.waiting -= 1
            if not opening.waiting:
                del self._opening[lookup]

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
            await feed.stop()

    async def end(self, lookup: str) -> None:
        """The session is wiped: its feed stops, its listeners see the end."""
        opening = self._opening.get(lookup)
        if opening is not None:
            opening.wiped = True
        feed = self._feeds.pop(lookup, None)
        if feed is not None:
            await feed.stop()

    async def end_all(self) -> None:
        for lookup in list(self._feeds):
            await self.end(lookup)

    def open_count(self) -> int:
        return sum(1 for feed in self._feeds.values() if not feed.ended)
