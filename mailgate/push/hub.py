"""All sessions' feeds: at most one upstream connection per session, shared by its tabs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mailgate.config import ImapConfig, PushConfig
from mailgate.mail.imap.errors import ImapUnavailable
from mailgate.mail.pool import Credentials, ImapPool

from .feed import Listener, SessionFeed

__all__ = ["PushHub"]


class PushHub:
    def __init__(self, pool: ImapPool, imap: ImapConfig, config: PushConfig):
        self._pool = pool
        self._imap = imap
        self._config = config
        self._feeds: dict[str, SessionFeed] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def listen(self, lookup: str, credentials: Callable[[], Credentials]) -> Listener:
        """A listener on the session's feed, starting the feed if needed (ImapError)."""
        lock = self._locks.setdefault(lookup, asyncio.Lock())
        async with lock:
            feed = self._feeds.get(lookup)
            if feed is None or feed.ended:
                if feed is not None:
                    await feed.stop()
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
                self._feeds[lookup] = feed
            return feed.listen()

    async def unlisten(self, lookup: str, listener: Listener) -> None:
        feed = self._feeds.get(lookup)
        if feed is not None and feed.unlisten(listener):
            await self.end(lookup)

    async def end(self, lookup: str) -> None:
        """Stop the session's feed: its listeners see the end, its connection closes."""
        self._locks.pop(lookup, None)
        feed = self._feeds.pop(lookup, None)
        if feed is not None:
            await feed.stop()

    async def end_all(self) -> None:
        for lookup in list(self._feeds):
            await self.end(lookup)

    def open_count(self) -> int:
        return sum(1 for feed in self._feeds.values() if not feed.ended)
