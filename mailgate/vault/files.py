"""Vault backend: ciphertext files in a private temporary directory (mode 0700, files 0600).

The directory is emptied at start-up and shutdown; a session's folder is removed when
the session is wiped. Without the cookie's key the files are unreadable, and the key is
never written anywhere (crypto-shredding: deleting the session drops the only key).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from mailgate.errors import PayloadTooLarge, StorageFull
from mailgate.vault.interface import BlobInfo, check_owner, valid_blob_id
from mailgate.vault.sealing import BlobOpener, BlobSealer, VaultIntegrityError

__all__ = ["FileVault"]

_READ = 256 * 1024


class FileVault:
    def __init__(self, root: str | Path | None = None):
        if root is None:
            root = tempfile.mkdtemp(prefix="mailgate-vault-")
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def _dir(self, owner: str) -> Path:
        return self.root / check_owner(owner)

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
        folder = self._dir(owner)
        blob_id = secrets.token_urlsafe(18)
        data_path = folder / f"{blob_id}.data"
        size = 0
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            sealer = BlobSealer(upload_key, blob_id)
            fd = os.open(data_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                async for piece in chunks:
                    size += len(piece)
                    if size > max_bytes:
                        raise PayloadTooLarge("The file is larger than the upload limit.")
                    out.write(sealer.feed(piece))
                out.write(sealer.finish())
            info = BlobInfo(blob_id, filename, content_type, size)
            self._write_meta(folder, upload_key, info)
            return info
        except OSError as exc:
            self._remove(folder, blob_id)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull() from None
            raise
        except BaseException:
            self._remove(folder, blob_id)
            raise

    def _write_meta(self, folder: Path, upload_key: bytes, info: BlobInfo) -> None:
        sealer = BlobSealer(upload_key, info.id + ".meta")
        meta = json.dumps(
            {"filename": info.filename, "content_type": info.content_type, "size": info.size}
        ).encode()
        fd = os.open(folder / f"{info.id}.meta", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(sealer.feed(meta) + sealer.finish())

    @staticmethod
    def _remove(folder: Path, blob_id: str) -> None:
        for suffix in (".data", ".meta"):
            (folder / f"{blob_id}{suffix}").unlink(missing_ok=True)

    async def info(self, owner: str, upload_key: bytes, blob_id: str) -> BlobInfo | None:
        if not valid_blob_id(blob_id):
            return None
        path = self._dir(owner) / f"{blob_id}.meta"
        try:
            sealed = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            opener = BlobOpener(upload_key, blob_id + ".meta")
            meta = json.loads(b"".join(opener.feed(sealed)))
            opener.close()
        except (VaultIntegrityError, ValueError):
            return None
        return BlobInfo(blob_id, meta["filename"], meta["content_type"], meta["size"])

    async def list(self, owner: str, upload_key: bytes) -> list[BlobInfo]:
        folder = self._dir(owner)
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*.meta")):
            info = await self.info(owner, upload_key, path.name.removesuffix(".meta"))
            if info is not None:
                found.append(info)
        return found

    async def read(self, owner: str, upload_key: bytes, blob_id: str) -> AsyncIterator[bytes]:
        if not valid_blob_id(blob_id):
            raise FileNotFoundError(blob_id)
        opener = BlobOpener(upload_key, blob_id)
        with open(self._dir(owner) / f"{blob_id}.data", "rb") as src:
            while True:
                data = src.read(_READ)
                if not data:
                    break
                for plain in opener.feed(data):
                    yield plain
                await asyncio.sleep(0)
        opener.close()

    async def delete(self, owner: str, blob_id: str) -> bool:
        if not valid_blob_id(blob_id):
            return False
        folder = self._dir(owner)
        existed = (folder / f"{blob_id}.meta").exists()
        self._remove(folder, blob_id)
        return existed

    async def usage(self, owner: str) -> tuple[int, int]:
        folder = self._dir(owner)
        if not folder.is_dir():
            return 0, 0
        data = list(folder.glob("*.data"))
        return len(data), sum(p.stat().st_size for p in data)

    async def wipe(self, owner: str) -> None:
        shutil.rmtree(self._dir(owner), ignore_errors=True)

    async def wipe_all(self) -> None:
        for child in self.root.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)

    async def close(self) -> None:
        await self.wipe_all()
        self.root.rmdir()

    def dump(self) -> bytes:
        """Every byte under the vault directory, for at-rest tests."""
        return b"".join(p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file())
