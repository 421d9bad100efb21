"""Where sealed preferences live: SQLite (default) or Redis (scale-out).

Both stores hold only (opaque account id, AEAD ciphertext, retained-until time). They
never see an address or a preference value. SQLite erases rows past their time with
`purge()` (a scheduled task) and skips them on read; Redis expires keys by TTL.
Backend failures raise StoreUnavailable (503).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from mailgate.errors import StoreUnavailable
from mailgate.store.redis import RedisBacked, RedisTarget

__all__ = [
    "DB_FILE_NAME",
    "PREFS_PREFIX",
    "PreferenceStore",
    "RedisPreferenceStore",
    "SqlitePreferenceStore",
]

DB_FILE_NAME = "preferences.sqlite3"
PREFS_PREFIX = "mailgate:p:"


class PreferenceStore(Protocol):
    async def get(self, account_id: str) -> tuple[bytes, float] | None:
        """(sealed, retained_until) while retained, else None."""
        ...

    async def put(self, account_id: str, sealed: bytes, retained_until: float) -> None: ...

    async def refresh(self, account_id: str, retained_until: float) -> bool:
        """Move the erase time of an existing row; False when there is none."""
        ...

    async def delete(self, account_id: str) -> bool: ...

    async def purge(self, now: float) -> int:
        """Erase everything past its time; how many rows went."""
        ...

    async def close(self) -> None: ...

    def dump(self) -> bytes: ...


class SqlitePreferenceStore:
    """One table in `<data dir>/preferences.sqlite3` (file 0600, secure_delete on so an
    erased row is overwritten in the file, not just unlinked from the b-tree)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS preferences ("
            " account_id TEXT PRIMARY KEY, sealed BLOB NOT NULL, retained_until REAL NOT NULL)"
        )

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    async def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return await asyncio.to_thread(self._run, sql, args)
        except sqlite3.Error:
            raise StoreUnavailable(
                "The preference store is unavailable; try again later."
            ) from None

    async def get(self, account_id: str) -> tuple[bytes, float] | None:
        cur = await self._exec(
            "SELECT sealed, retained_until FROM preferences"
            " WHERE account_id = ? AND retained_until > ?",
            (account_id, time.time()),
        )
        row = cur.fetchone()
        return (bytes(row[0]), float(row[1])) if row else None

    async def put(self, account_id: str, sealed: bytes, retained_until: float) -> None:
        await self._exec(
            "INSERT INTO preferences (account_id, sealed, retained_until) VALUES (?, ?, ?)"
            " ON CONFLICT(account_id) DO UPDATE SET"
            " sealed = excluded.sealed, retained_until = excluded.retained_until",
            (account_id, sealed, retained_until),
        )

    async def refresh(self, account_id: str, retained_until: float) -> bool:
        cur = await self._exec(
            "UPDATE preferences SET retained_until = ? WHERE account_id = ? AND retained_until > ?",
            (retained_until, account_id, time.time()),
        )
        return cur.rowcount > 0

    async def delete(self, account_id: str) -> bool:
        cur = await self._exec("DELETE FROM preferences WHERE account_id = ?", (account_id,))
        return cur.rowcount > 0

    async def purge(self, now: float) -> int:
        cur = await self._exec("DELETE FROM preferences WHERE retained_until <= ?", (now,))
        return cur.rowcount

    async def close(self) -> None:
        with self._lock:
            self._db.close()

    def dump(self) -> bytes:
        """The database file's bytes (for at-rest tests)."""
        return self.path.read_bytes()


class RedisPreferenceStore(RedisBacked):
    """`mailgate:p:<account id>` → sealed bytes, expiring by TTL at the retained-until
    time; a login moves the TTL."""

    prefix = PREFS_PREFIX

    def __init__(self, target: RedisTarget):
        super().__init__(target)

    def _failure(self, exc: BaseException) -> Exception:
        return StoreUnavailable()

    async def get(self, account_id: str) -> tuple[bytes, float] | None:
        key = PREFS_PREFIX + account_id
        sealed = await self._call("get", key)
        if sealed is None:
            return None
        ttl_ms = await self._call("pttl", key)
        if ttl_ms < 0:
            return None  # vanished in between (-2) or, impossibly, no TTL (-1)
        return sealed, time.time() + ttl_ms / 1000

    async def put(self, account_id: str, sealed: bytes, retained_until: float) -> None:
        await self._acked("set", PREFS_PREFIX + account_id, sealed, pxat=int(retained_until * 1000))

    async def refresh(self, account_id: str, retained_until: float) -> bool:
        return bool(
            await self._call("pexpireat", PREFS_PREFIX + account_id, int(retained_until * 1000))
        )

    async def delete(self, account_id: str) -> bool:
        return bool(await self._call("delete", PREFS_PREFIX + account_id))

    async def purge(self, now: float) -> int:
        return 0  # Redis erases by TTL
