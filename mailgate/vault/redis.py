"""Vault backend on Redis: every instance sees a session's uploads.

A blob is stored as ciphertext pieces under `mailgate:v:<owner>:<blob>:<n>` (the framed
AEAD of vault/sealing.py, so nothing readable reaches Redis) and a sealed meta key
`mailgate:v:<owner>:<blob>:meta` written last (a blob without it is incomplete). An
index hash `mailgate:v:<owner>:index` maps blob ids to "<pieces> <stored bytes>" so
usage and deletion need no key. Every key expires shortly after the owning session's
absolute deadline, and the session's wipe hook deletes them at once.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator

from mailgate.errors import PayloadTooLarge, StoreUnavailable
from mailgate.store.redis import REDIS_ERRORS, RedisBacked, RedisTarget
from mailgate.vault.interface import BlobInfo, check_owner, valid_blob_id
from mailgate.vault.sealing import BlobOpener, BlobSealer, VaultIntegrityError

__all__ = ["VAULT_PREFIX", "RedisVault"]

VAULT_PREFIX = "mailgate:v:"
# Keys outlive the session's absolute deadline by at most this much (clock skew room).
_SLACK_S = 60.0


class RedisVault(RedisBacked):
    prefix = VAULT_PREFIX

    def __init__(self, target: RedisTarget, *, default_ttl_s: float = 43200.0) -> None:
        super().__init__(target)
        # Used only when the caller does not say when the owner's session ends.
        self.default_ttl_s = default_ttl_s

    def _failure(self, exc: BaseException) -> Exception:
        return StoreUnavailable()

    @staticmethod
    def _key(owner: str, blob_id: str, part: int | str) -> str:
        return f"{VAULT_PREFIX}{owner}:{blob_id}:{part}"

    @staticmethod
    def _index(owner: str) -> str:
        return f"{VAULT_PREFIX}{owner}:index"

    def _expire_at_ms(self, expires_at: float | None) -> int:
        """When the keys must be gone: the owning session's absolute deadline, as the
        caller says (the vault never reads the session store's keys)."""
        deadline = expires_at if expires_at is not None else time.time() + self.default_ttl_s
        return int((deadline + _SLACK_S) * 1000)

    async def put(
        self,
        owner: str,
        upload_key: bytes,
        filename: str,
        content_type: str,
        chunks: AsyncIterator[bytes],
        *,
        max_bytes: int,
        expires_at: float | None = None,
    ) -> BlobInfo:
        check_owner(owner)
        blob_id = secrets.token_urlsafe(18)
        expire_ms = self._expire_at_ms(expires_at)
        sealer = BlobSealer(upload_key, blob_id)
        size = stored = pieces = 0

        async def write(data: bytes) -> None:
            nonlocal stored, pieces
            if not data:
                return
            key = self._key(owner, blob_id, pieces)
            await self._call("set", key, data, pxat=expire_ms)
            pieces += 1
            stored += len(data)

        try:
            async for piece in chunks:
                size += len(piece)
                if size > max_bytes:
                    raise PayloadTooLarge("The file is larger than the upload limit.")
                await write(sealer.feed(piece))
            await write(sealer.finish())
            info = BlobInfo(blob_id, filename, content_type, size)
            meta = json.dumps(
                {"filename": filename, "content_type": content_type, "size": size}
            ).encode()
            meta_sealer = BlobSealer(upload_key, blob_id + ".meta")
            sealed_meta = meta_sealer.feed(meta) + meta_sealer.finish()
            await self._call("set", self._key(owner, blob_id, "meta"), sealed_meta, pxat=expire_ms)
            await self._call("hset", self._index(owner), blob_id, f"{pieces} {stored}")
            # The last write: acknowledged by replicas, it carries every piece with it.
            await self._acked("pexpireat", self._index(owner), expire_ms)
            return info
        except BaseException:
            await self._remove(owner, blob_id, pieces)
            raise

    async def _remove(self, owner: str, blob_id: str, pieces: int) -> None:
        keys = [self._key(owner, blob_id, n) for n in range(pieces)]
        keys.append(self._key(owner, blob_id, "meta"))
        try:
            await self._redis.delete(*keys)
            await self._redis.hdel(self._index(owner), blob_id)
        except REDIS_ERRORS:
            pass  # the keys expire with the session anyway

    async def info(self, owner: str, upload_key: bytes, blob_id: str) -> BlobInfo | None:
        if not valid_blob_id(blob_id):
            return None
        sealed = await self._call("get", self._key(check_owner(owner), blob_id, "meta"))
        if sealed is None:
            return None
        try:
            opener = BlobOpener(upload_key, blob_id + ".meta")
            meta = json.loads(b"".join(opener.feed(sealed)))
            opener.close()
        except (VaultIntegrityError, ValueError):
            return None
        return BlobInfo(blob_id, meta["filename"], meta["content_type"], meta["size"])

    async def _entries(self, owner: str) -> dict[str, tuple[int, int]]:
        raw = await self._call("hgetall", self._index(check_owner(owner)))
        entries = {}
        for blob_id, value in raw.items():
            pieces, stored = value.split()
            entries[blob_id.decode()] = (int(pieces), int(stored))
        return entries

    async def list(self, owner: str, upload_key: bytes) -> list[BlobInfo]:
        found = []
        for blob_id in sorted(await self._entries(owner)):
            info = await self.info(owner, upload_key, blob_id)
            if info is not None:
                found.append(info)
        return found

    async def read(self, owner: str, upload_key: bytes, blob_id: str) -> AsyncIterator[bytes]:
        if not valid_blob_id(blob_id):
            raise FileNotFoundError(blob_id)
        entry = (await self._entries(owner)).get(blob_id)
        if entry is None:
            raise FileNotFoundError(blob_id)
        opener = BlobOpener(upload_key, blob_id)
        for n in range(entry[0]):
            data = await self._call("get", self._key(owner, blob_id, n))
            if data is None:
                raise VaultIntegrityError("blob truncated")
            for plain in opener.feed(data):
                yield plain
        opener.close()

    async def delete(self, owner: str, blob_id: str) -> bool:
        if not valid_blob_id(blob_id):
            return False
        entry = (await self._entries(owner)).get(blob_id)
        if entry is None:
            return False
        await self._remove(owner, blob_id, entry[0])
        return True

    async def usage(self, owner: str) -> tuple[int, int]:
        entries = await self._entries(owner)
        return len(entries), sum(stored for _, stored in entries.values())

    async def _delete_matching(self, pattern: str) -> None:
        try:
            batch = []
            async for key in self._redis.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    await self._redis.delete(*batch)
                    batch = []
            if batch:
                await self._redis.delete(*batch)
        except REDIS_ERRORS:
            raise StoreUnavailable() from None

    async def wipe(self, owner: str) -> None:
        # SCAN also catches the pieces of an upload still in progress.
        await self._delete_matching(f"{VAULT_PREFIX}{check_owner(owner)}:*")

    async def wipe_all(self) -> None:
        await self._delete_matching(VAULT_PREFIX + "*")
