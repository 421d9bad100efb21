"""In-process session store: the embedded default. Everything dies with the process."""

from __future__ import annotations

from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.store.interface import SessionRecord

__all__ = ["MemoryStore"]


class MemoryStore:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._records: dict[str, SessionRecord] = {}

    async def create(self, lookup: str, record: SessionRecord) -> None:
        self._records[lookup] = record

    async def get(self, lookup: str) -> SessionRecord | None:
        record = self._records.get(lookup)
        if record is None or record.expiry_reason(self._clock.now()):
            return None
        return record

    async def touch(self, lookup: str, now: float) -> None:
        record = self._records.get(lookup)
        if record is not None:
            record.last_seen = now

    async def reseal(self, lookup: str, sealed: bytes) -> bool:
        record = self._records.get(lookup)
        if record is None:
            return False
        record.sealed = sealed
        return True

    async def delete(self, lookup: str) -> bool:
        return self._records.pop(lookup, None) is not None

    async def expired(self, now: float) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for lookup, record in self._records.items():
            reason = record.expiry_reason(now)
            if reason:
                found.append((lookup, reason))
        return found

    async def lookups(self) -> list[str]:
        return list(self._records)

    async def clear(self) -> None:
        self._records.clear()

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._records.clear()

    def dump(self) -> bytes:
        """Every byte the store holds, for at-rest tests."""
        return b"\n".join(k.encode() + b" " + r.to_bytes() for k, r in self._records.items())
