"""The session cookie's value: a random session id and a random key, both from a CSPRNG.

The server stores only SHA-256 of the id (the lookup key); the key never leaves the
cookie and the request that carries it, so the store alone cannot open a session's data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["COOKIE_NAME", "SessionToken", "new_token", "parse_token", "token_from_cookie_header"]

COOKIE_NAME = "__Host-mailgate"
_ID_BYTES = 32
_KEY_BYTES = 32
_TOKEN_LEN = 86  # base64url of 64 bytes, unpadded
_CANONICAL = re.compile(r"[A-Za-z0-9_-]{86}", re.ASCII)


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
    """Strictly parse a cookie value; anything malformed is simply no session.

    Only the one canonical encoding is accepted (what `encode` writes): base64url without
    padding, no `+`/`/`, no quotes or spaces, and the unused low bits of the last
    character zero. One token has exactly one cookie value."""
    if not value or len(value) != _TOKEN_LEN or not _CANONICAL.fullmatch(value):
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "==")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _ID_BYTES + _KEY_BYTES:
        return None
    token = SessionToken(raw[:_ID_BYTES], raw[_ID_BYTES:])
    if not hmac.compare_digest(token.encode(), value):
        return None  # spare bits set: another spelling of the same bytes
    return token


def token_from_cookie_header(header: str | None) -> SessionToken | None:
    """The session token from a raw Cookie header, its value exactly as sent.

    Cookie parsers unquote values (`"abc"` becomes `abc`); that would be a second spelling
    of the same cookie, so the raw header is read here."""
    if not header:
        return None
    for pair in header.split(";"):
        name, eq, value = pair.strip().partition("=")
        if eq and name == COOKIE_NAME:
            return parse_token(value)
    return None
