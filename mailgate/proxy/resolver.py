"""A resolver that refuses private addresses and pins what it checked (SEC-60, SEC-61).

aiohttp connects to exactly the addresses a resolver returns, so validating here, with
the DNS cache off, means the address checked is the address connected to: a second,
different DNS answer (rebinding) cannot slip in between check and connect.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from mailgate.net.addresses import AddressPolicy

__all__ = ["AddressRefused", "PinnedResolver"]


class AddressRefused(OSError):
    """The name resolves to an address the policy does not permit."""


class PinnedResolver(AbstractResolver):
    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None):
        self._policy = policy
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        if not results:
            raise AddressRefused("no address")
        # One private address among public ones refuses the whole name.
        if not all(self._policy.permits(r["host"]) for r in results):
            raise AddressRefused("private address")
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()
