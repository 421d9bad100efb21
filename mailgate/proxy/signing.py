"""Signed proxy URLs: bound to one session, one message and one target, and short-lived.

The mail frame is sandboxed (opaque origin), so its image requests carry no cookie; the
URL itself must prove that a live session asked for this image in this message. The key
is derived from the server secret, so every instance that shares the secret (Redis
deployments must) can verify what another instance signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import urllib.parse
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["PROXY_PATH", "ProxySigner", "SignatureInvalid", "SignedTarget"]

PROXY_PATH = "/api/proxy/image"
_MAX_URL = 2048


class SignatureInvalid(Exception):
    """Unsigned, tampered, expired, or signed for another session or message."""


@dataclass(frozen=True)
class SignedTarget:
    lookup: str
    message: str
    url: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ProxySigner:
    def __init__(self, server_secret: bytes, lifetime_s: float):
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"mailgate/v1/image-proxy"
        ).derive(server_secret)
        self._lifetime = lifetime_s

    def _mac(self, lookup: str, message: str, expires: int, url: str) -> str:
        signed = "\n".join((lookup, message, str(expires), url)).encode()
        return _b64(hmac.new(self._key, signed, hashlib.sha256).digest())

    def url_for(
        self, lookup: str, message: str, target: str, now: float | None = None
    ) -> str | None:
        """The same-origin proxy URL for `target`, or None when it cannot be proxied."""
        if len(target) > _MAX_URL:
            return None
        expires = int((now if now is not None else time.time()) + self._lifetime)
        query = urllib.parse.urlencode(
            {
                "u": _b64(target.encode()),
                "s": lookup,
                "m": message,
                "e": str(expires),
                "t": self._mac(lookup, message, expires, target),
            }
        )
        return f"{PROXY_PATH}?{query}"

    def verify(self, query: dict[str, str], now: float | None = None) -> SignedTarget:
        try:
            url = _unb64(query["u"]).decode()
            lookup, message, mac = query["s"], query["m"], query["t"]
            expires = int(query["e"])
        except (KeyError, ValueError, binascii.Error, UnicodeDecodeError):
            raise SignatureInvalid("malformed") from None
        expected = self._mac(lookup, message, expires, url)
        if not hmac.compare_digest(expected.encode(), mac.encode()):
            raise SignatureInvalid("signature")
        if expires < (now if now is not None else time.time()):
            raise SignatureInvalid("expired")
        return SignedTarget(lookup=lookup, message=message, url=url)
