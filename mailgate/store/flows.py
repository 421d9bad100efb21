"""Short-lived sign-in flows (OpenID Connect), shared by every instance.

A flow is started on one instance and finished on whichever instance the provider's
redirect reaches (the shipped HAProxy layout has no stickiness), so it lives where the
sessions live: in this process for the memory backend, in Redis for the Redis one. The
store only ever sees an opaque key and a ciphertext (the caller seals the flow under a
key only the starting browser holds), and each flow can be taken once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

__all__ = ["FlowStore", "MemoryFlowStore"]  # RedisFlowStore: mailgate.store.redis

#: At most this many flows wait in one process (oldest dropped first).
MAX_MEMORY_FLOWS = 10_000


class FlowStore(Protocol):
    async def put(self, key: bytes, sealed: bytes, ttl_s: float) -> None: ...

    async def take(self, key: bytes) -> bytes | None:
        """The flow stored under ``key``, removed in the same step (one use)."""
        ...

    async def close(self) -> None: ...


class MemoryFlowStore:
    def __init__(self) -> None:
        self._flows: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()

    async def put(self, key: bytes, sealed: bytes, ttl_s: float) -> None:
        now = time.monotonic()
        while self._flows:
            oldest, (deadline, _) = next(iter(self._flows.items()))
            if deadline > now and len(self._flows) < MAX_MEMORY_FLOWS:
                break
            del self._flows[oldest]
        self._flows[key] = (now + ttl_s, sealed)

    async def take(self, key: bytes) -> bytes | None:
        found = self._flows.pop(key, None)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    async def close(self) -> None:
        self._flows.clear()
