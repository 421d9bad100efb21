"""The session store interface; the HTTP layer never knows which backend runs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Protocol

__all__ = ["SessionRecord", "SessionStore", "StoreError"]


class StoreError(Exception):
    """The backend is unreachable or failed; answered as 503, never a silent logout."""


@dataclass
class SessionRecord:
    """What the server keeps about a session. `sealed` is AEAD ciphertext of the account
    data under the cookie's key; everything else is timing, not about the person."""

    created: float
    last_seen: float
    idle_timeout_s: int
    absolute_deadline: float
    sealed: bytes

    def expiry_reason(self, now: float) -> str | None:
        if now >= self.absolute_deadline:
            return "absolute"
        if now >= self.last_seen + self.idle_timeout_s:
            return "idle"
        return None

    def ttl(self, now: float) -> float:
        """Seconds until this record must be gone, whichever deadline comes first."""
        return max(0.0, min(self.last_seen + self.idle_timeout_s, self.absolute_deadline) - now)

    def to_bytes(self) -> bytes:
        data = asdict(self)
        data["sealed"] = self.sealed.hex()
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> SessionRecord:
        data = json.loads(raw)
        data["sealed"] = bytes.fromhex(data["sealed"])
        return cls(**data)


class SessionStore(Protocol):
    """Maps a session's lookup key (SHA-256 of its id) to its record."""

    async def create(self, lookup: str, record: SessionRecord) -> None: ...

    async def get(self, lookup: str) -> SessionRecord | None:
        """The live record, or None when absent or past a deadline."""
        ...

    async def touch(self, lookup: str, now: float) -> None:
        """Record activity: restarts the idle clock (never past the absolute deadline)."""
        ...

    async def reseal(self, lookup: str, sealed: bytes) -> bool:
        """Replace a live record's sealed account (refreshed tokens); False if it is gone."""
        ...

    async def delete(self, lookup: str) -> bool: ...

    async def expired(self, now: float) -> list[tuple[str, str]]:
        """(lookup, reason) of records past a deadline that are still held."""
        ...

    async def lookups(self) -> list[str]: ...

    async def clear(self) -> None:
        """Delete every session (start-up and shutdown wipes)."""
        ...

    async def ping(self) -> None:
        """Raise StoreError if the backend is unreachable."""
        ...

    async def close(self) -> None: ...
