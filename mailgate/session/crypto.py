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

    __slots__ = ("_aead", "_cookie_key", "_lookup")

    def __init__(self, cookie_key: bytes, lookup: str):
        self._lookup = lookup.encode()
        self._cookie_key = cookie_key
        self._aead = AESGCM(_derive(cookie_key, b"mailgate/v1/session-data"))

    # The CSRF token and the upload key are derived when a request needs them (most
    # requests are GETs without uploads), not on every request.
    @property
    def csrf_token(self) -> str:
        digest = hmac.new(self._cookie_key, b"mailgate/v1/csrf", hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    @property
    def upload_key(self) -> bytes:
        return _derive(self._cookie_key, b"mailgate/v1/uploads")

    def csrf_matches(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            candidate.encode(), self.csrf_token.encode()
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
