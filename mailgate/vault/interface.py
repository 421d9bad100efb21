"""The vault: a session's encrypted temporary blobs (uploads), on disk or in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["BlobInfo", "Vault"]


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
    ) -> BlobInfo:
        """Encrypt and store a stream; PayloadTooLarge past `max_bytes` (partial data
        removed), StorageFull when the medium is full."""
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
