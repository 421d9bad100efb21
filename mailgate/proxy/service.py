"""The image proxy as the app uses it: sign URLs while rendering, serve them later."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from mailgate.config import ProxyConfig
from mailgate.net.addresses import AddressPolicy
from mailgate.tls import upstream_context

from .fetch import ImageFetcher
from .signing import ProxySigner

__all__ = ["ImageProxy"]


class ImageProxy:
    def __init__(self, config: ProxyConfig, server_secret: bytes):
        self.config = config
        self.signer = ProxySigner(server_secret, config.url_lifetime_s)
        self.policy = AddressPolicy(config.allow_private_addresses)
        self.fetcher = ImageFetcher(
            self.policy, upstream_context(config.ca_file or None), max_bytes=config.max_bytes
        )
        # Held only while a fetch uses it, so sessions wiped elsewhere leave nothing here.
        self._slots: weakref.WeakValueDictionary[str, asyncio.Semaphore] = (
            weakref.WeakValueDictionary()
        )

    def rewriter(self, lookup: str, message: str) -> Callable[[str], str | None]:
        """What the sanitizer calls for each remote `<img src>` of one message."""

        def rewrite(target: str) -> str | None:
            return self.signer.url_for(lookup, message, target)

        return rewrite

    def slot(self, lookup: str) -> asyncio.Semaphore:
        """Bounds one session's concurrent fetches."""
        sem = self._slots.get(lookup)
        if sem is None:
            sem = self._slots[lookup] = asyncio.Semaphore(self.config.per_session_concurrency)
        return sem

    async def close(self) -> None:
        await self.fetcher.close()
