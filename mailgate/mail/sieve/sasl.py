"""SASL mechanisms for ManageSieve AUTHENTICATE (RFC 5804 section 2.1).

A mechanism gives its initial response and answers server challenges. PLAIN (RFC 4616) is
what mailgate uses with the session's password; a token-based mechanism (OAUTHBEARER,
RFC 7628) plugs in the same way once sessions carry OAuth2 tokens.
"""

from __future__ import annotations

from typing import Protocol

from mailgate.mail.sasl import bearer_message, check_bearer

__all__ = ["BearerMechanism", "PlainMechanism", "SaslMechanism"]


class SaslMechanism(Protocol):
    #: The registered mechanism name, upper case, as the server lists it under "SASL".
    name: str

    def initial_response(self) -> bytes:
        """The client-first message, sent with AUTHENTICATE (never empty for PLAIN)."""
        ...

    def respond(self, challenge: bytes) -> bytes | None:
        """The answer to a server challenge; None aborts the exchange."""
        ...


class PlainMechanism:
    """PLAIN: ``authzid NUL authcid NUL password``, with an empty authzid."""

    name = "PLAIN"

    def __init__(self, username: str, password: str) -> None:
        for value in (username, password):
            if "\0" in value:
                raise ValueError("user names and passwords cannot contain NUL")
        self._username = username
        self._password = password

    def initial_response(self) -> bytes:
        return b"\0" + self._username.encode("utf-8") + b"\0" + self._password.encode("utf-8")

    def respond(self, challenge: bytes) -> bytes | None:
        # PLAIN is one message; a server that asks for more is not talking PLAIN.
        return None

    def __repr__(self) -> str:
        return "PlainMechanism(<redacted>)"


class BearerMechanism:
    """OAUTHBEARER (RFC 7628) with the access token of a session signed in through an
    OpenID provider."""

    name = "OAUTHBEARER"

    def __init__(self, username: str, token: str) -> None:
        check_bearer(username, token)
        self._username = username
        self._token = token

    def initial_response(self) -> bytes:
        return bearer_message(self.name, self._username, self._token, "", 0)

    def respond(self, challenge: bytes) -> bytes | None:
        # An error challenge (JSON): RFC 7628 §3.2.3 wants ^A, then the server refuses.
        return b"\x01"

    def __repr__(self) -> str:
        return "BearerMechanism(<redacted>)"
