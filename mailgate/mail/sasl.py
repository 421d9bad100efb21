"""The bearer-token SASL messages for IMAP and SMTP: OAUTHBEARER (RFC 7628) and, for
servers that only know it, Google's XOAUTH2. Both carry the user name and the access
token; neither is logged or kept."""

from __future__ import annotations

__all__ = ["BEARER_MECHANISMS", "bearer_message", "check_bearer"]

#: In order of preference.
BEARER_MECHANISMS = ("OAUTHBEARER", "XOAUTH2")


def check_bearer(username: str, token: str) -> None:
    """Refuse values that could break out of the message (RFC 7628's ^A separators)."""
    if not token or any(ord(ch) < 0x20 or ord(ch) > 0x7E for ch in token):
        raise ValueError("an access token is printable ASCII")
    if any(ord(ch) < 0x20 for ch in username):
        raise ValueError("user names cannot contain control characters")


def bearer_message(mechanism: str, username: str, token: str, host: str, port: int) -> bytes:
    """The client's first (and only) message for ``mechanism``, not yet base64-encoded."""
    check_bearer(username, token)
    if mechanism == "OAUTHBEARER":
        # gs2 header: the authorization identity with "=" and "," escaped (RFC 5801).
        authzid = username.replace("=", "=3D").replace(",", "=2C")
        # host and port name the server signed in to, where the caller knows it.
        where = f"host={host}\x01port={port}\x01" if host else ""
        fields = f"n,a={authzid},\x01{where}auth=Bearer {token}\x01\x01"
        return fields.encode("utf-8")
    if mechanism == "XOAUTH2":
        return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()
    raise ValueError("unknown bearer mechanism")
