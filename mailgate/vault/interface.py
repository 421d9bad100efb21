"""The vault: a session's encrypted temporary blobs (uploads), on disk or in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["BlobInfo", "Vault", "check_owner", "valid_blob_id"]


def check_owner(owner: str) -> str:
    """An owner is a session's lookup key (hex); it becomes part of paths and keys."""
    if not owner or not all(c in "0123456789abcdef" for c in owner):
        raise ValueError("owner must be a hex lookup key")
    return owner


def valid_blob_id(blob_id: str) -> bool:
    """Blob ids are ours (token_urlsafe); anything else names no blob."""
    return 16 <= len(blob_id) <= 64 and all(c.isalnum() or c in "-_" for c in blob_id)


@dataclass(frozen=True)
class BlobInfo:
    id: str
    filename: str
    content_type: str
    size: int

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }


class Vault(Protocol):
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
        """Encrypt and store a stream; PayloadTooLarge past `max_bytes` (partial data
        removed), StorageFull when the medium is full. `expires_at` (epoch seconds) is
        when the owning session ends at the latest: a backend whose data expires by
        itself (Redis) keeps the blob no longer than that."""
        ...

    async def info(self, owner: str, upload_key: bytes, blob_id: str) -> BlobInfo | None: ...

    async def list(self, owner: str, upload_key: bytes) -> list[BlobInfo]: ...

    def read(self, owner: str, upload_key: bytes, blob_id: str) -> AsyncIterator[bytes]:
        """The plaintext, decrypted chunk by chunk."""
        ...

    async def delete(self, owner: str, blob_id: str) -> bool: ...

    async def usage(self, owner: str) -> tuple[int, int]:
        """(number of blobs, stored bytes) of one owner."""
        ...

    async def wipe(self, owner: str) -> None: ...

    async def wipe_all(self) -> None: ...

    async def close(self) -> None:
        """Release what the backend holds (files of a private directory, connections)."""
        ...
