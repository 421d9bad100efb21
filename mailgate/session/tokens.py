"""The session cookie's value: a random session id and a random key, both from a CSPRNG.

The server stores only SHA-256 of the id (the lookup key); the key never leaves the
cookie and the request that carries it, so the store alone cannot open a session's data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

__all__ = ["COOKIE_NAME", "SessionToken", "new_token", "parse_token"]

COOKIE_NAME = "__Host-mailgate"
_ID_BYTES = 32
_KEY_BYTES = 32
_TOKEN_LEN = 86  # base64url of 64 bytes, unpadded


@dataclass(frozen=True, repr=False)
class SessionToken:
    session_id: bytes
    key: bytes

    @property
    def lookup(self) -> str:
        """What the store is keyed by: SHA-256 of the id, hex."""
        return hashlib.sha256(self.session_id).hexdigest()

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.session_id + self.key).rstrip(b"=").decode()

    def __repr__(self) -> str:  # never print the secret parts
        return "SessionToken(<redacted>)"


def new_token() -> SessionToken:
    return SessionToken(secrets.token_bytes(_ID_BYTES), secrets.token_bytes(_KEY_BYTES))


def parse_token(value: str | None) -> SessionToken | None:
    """Strictly parse a cookie value; anything malformed is simply no session."""
    if not value or len(value) != _TOKEN_LEN:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "==")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _ID_BYTES + _KEY_BYTES:
        return None
    return SessionToken(raw[:_ID_BYTES], raw[_ID_BYTES:])
