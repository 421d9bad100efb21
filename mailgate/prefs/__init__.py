"""Preferences: the only data kept after logout, sealed per account, erased after the
retention period without a login (see secret.py for keys and store.py for backends)."""

from __future__ import annotations

import json
import time
from typing import Any

from mailgate.prefs.schema import encode
from mailgate.prefs.secret import AccountKeys
from mailgate.prefs.store import PreferenceStore

__all__ = ["PreferenceService"]


class PreferenceService:
    """Load, save, erase and retain one account's preferences."""

    def __init__(self, store: PreferenceStore, keys: AccountKeys, retention_s: float):
        self.store = store
        self.keys = keys
        self.retention_s = retention_s

    def _until(self) -> float:
        return time.time() + self.retention_s

    async def load(self, email: str) -> tuple[dict[str, Any], float | None]:
        """(preferences, retained_until); empty and None when nothing is kept."""
        found = await self.store.get(self.keys.account_id(email))
        if found is None:
            return {}, None
        plain = self.keys.open(email, found[0])
        if plain is None:
            # Sealed under another server secret: unreadable, so as good as absent.
            return {}, None
        return json.loads(plain), found[1]

    async def save(self, email: str, preferences: dict[str, Any]) -> float:
        """Replace the stored preferences; the retention clock restarts now."""
        until = self._until()
        sealed = self.keys.seal(email, encode(preferences))
        await self.store.put(self.keys.account_id(email), sealed, until)
        return until

    async def erase(self, email: str) -> bool:
        return await self.store.delete(self.keys.account_id(email))

    async def logged_in(self, email: str) -> None:
        """A login restarts the retention clock of existing preferences."""
        await self.store.refresh(self.keys.account_id(email), self._until())

    async def purge(self) -> int:
        return await self.store.purge(time.time())
