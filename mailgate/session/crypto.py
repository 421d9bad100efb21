"""AEAD sealing of a session's data under keys derived from the cookie's key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["SealError", "SessionKeys"]

_NONCE = 12


class SealError(Exception):
    """Ciphertext did not authenticate (wrong key, wrong session, or tampered)."""


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


class SessionKeys:
    """Keys for one session, held only for the duration of a request."""

    __slots__ = ("_aead", "_csrf", "_lookup", "_upload_key")

    def __init__(self, cookie_key: bytes, lookup: str):
        self._lookup = lookup.encode()
        self._aead = AESGCM(_derive(cookie_key, b"mailgate/v1/session-data"))
        self._upload_key = _derive(cookie_key, b"mailgate/v1/uploads")
        self._csrf = (
            base64.urlsafe_b64encode(
                hmac.new(cookie_key, b"mailgate/v1/csrf", hashlib.sha256).digest()
            )
            .rstrip(b"=")
            .decode()
        )

    @property
    def csrf_token(self) -> str:
        return self._csrf

    @property
    def upload_key(self) -> bytes:
        return self._upload_key

    def csrf_matches(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            candidate.encode(), self._csrf.encode()
        )

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        """Encrypt with a fresh 96-bit nonce; bound to this session and `context`."""
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, self._lookup + b"|" + context)

    def open(self, sealed: bytes, context: bytes = b"") -> bytes:
        try:
            return self._aead.decrypt(
                sealed[:_NONCE], sealed[_NONCE:], self._lookup + b"|" + context
            )
        except (InvalidTag, ValueError):
            raise SealError("sealed data did not authenticate") from None

    def __repr__(self) -> str:
        return "SessionKeys(<redacted>)"
