"""Chunked AEAD for blobs that are too large to seal in one piece.

Each blob has its own key (HKDF of the session's upload key and the blob id). Chunks
are sealed with AES-256-GCM; the chunk index and a final-chunk flag are authenticated
data, so chunks cannot be reordered, dropped or the blob truncated unnoticed.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["CHUNK", "BlobOpener", "BlobSealer", "VaultIntegrityError"]

CHUNK = 64 * 1024
_FRAME = struct.Struct(">I")  # ciphertext length of the next frame
_NONCE = 12


class VaultIntegrityError(Exception):
    """A stored blob failed authentication (wrong key, tampered, or truncated)."""


def _blob_aead(upload_key: bytes, blob_id: str) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"mailgate/v1/blob/" + blob_id.encode(),
    ).derive(upload_key)
    return AESGCM(key)


def _aad(index: int, final: bool) -> bytes:
    return struct.pack(">QB", index, 1 if final else 0)


class BlobSealer:
    """Turns plaintext pieces into framed ciphertext, CHUNK bytes at a time."""

    def __init__(self, upload_key: bytes, blob_id: str):
        self._aead = _blob_aead(upload_key, blob_id)
        self._index = 0
        self._pending = bytearray()

    def _frame(self, data: bytes, final: bool) -> bytes:
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, data, _aad(self._index, final))
        self._index += 1
        return _FRAME.pack(len(sealed)) + sealed

    def feed(self, data: bytes) -> bytes:
        """Framed ciphertext for every complete chunk now available (maybe empty)."""
        self._pending += data
        out = []
        while len(self._pending) > CHUNK:
            out.append(self._frame(bytes(self._pending[:CHUNK]), final=False))
            del self._pending[:CHUNK]
        return b"".join(out)

    def finish(self) -> bytes:
        frame = self._frame(bytes(self._pending), final=True)
        self._pending.clear()
        return frame


class BlobOpener:
    """Reverses BlobSealer over a byte stream; raises VaultIntegrityError on any fault."""

    def __init__(self, upload_key: bytes, blob_id: str):
        self._aead = _blob_aead(upload_key, blob_id)
        self._index = 0
        self._buffer = bytearray()
        self.finished = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        plain = []
        while len(self._buffer) >= _FRAME.size:
            (length,) = _FRAME.unpack_from(self._buffer)
            if length > CHUNK + 64:
                raise VaultIntegrityError("frame too large")
            if len(self._buffer) < _FRAME.size + length:
                break
            sealed = bytes(self._buffer[_FRAME.size : _FRAME.size + length])
            del self._buffer[: _FRAME.size + length]
            if self.finished:
                raise VaultIntegrityError("data after the final chunk")
            plain.append(self._open(sealed))
        return plain

    def _open(self, sealed: bytes) -> bytes:
        nonce, body = sealed[:_NONCE], sealed[_NONCE:]
        for final in (False, True):
            try:
                data = self._aead.decrypt(nonce, body, _aad(self._index, final))
            except InvalidTag:
                continue
            self._index += 1
            self.finished = final
            return data
        raise VaultIntegrityError("chunk did not authenticate")

    def close(self) -> None:
        if not self.finished or self._buffer:
            raise VaultIntegrityError("blob truncated")
