"""IMAP client exceptions.

Messages are fixed sentences chosen here plus a short ``reason`` token of ours (for example
"timeout", "cert_verify_failed"). They never carry server text, user names, mailbox names or
any other user data, so they are safe to log.
"""

from __future__ import annotations

__all__ = [
    "ImapAuthError",
    "ImapBadError",
    "ImapError",
    "ImapNoError",
    "ImapProtocolError",
    "ImapStale",
    "ImapTlsError",
    "ImapUnavailable",
    "ImapUnsupported",
]


class ImapError(Exception):
    """Base class; ``reason`` is a short snake_case token safe for logs."""

    summary = "IMAP error"

    def __init__(self, reason: str = "error") -> None:
        self.reason = reason
        super().__init__(f"{self.summary} ({reason})")


class ImapUnavailable(ImapError):
    """The server cannot be reached, timed out, said BYE or closed the connection."""

    summary = "IMAP server unavailable"


class ImapProtocolError(ImapUnavailable):
    """The server sent something we cannot parse; the connection has been closed."""

    summary = "IMAP protocol violation"


class ImapTlsError(ImapError):
    """No verified TLS: handshake or certificate failure, STARTTLS missing, PREAUTH, injection."""

    summary = "IMAP TLS failure"


class ImapAuthError(ImapError):
    """The server refused the login."""

    summary = "IMAP login refused"


class ImapNoError(ImapError):
    """A command got a tagged NO; ``reason`` is the response code (lower case) or "no"."""

    summary = "IMAP command refused"


class ImapBadError(ImapError):
    """A command got a tagged BAD (a bug on our side or a very odd server)."""

    summary = "IMAP command rejected as bad"


class ImapUnsupported(ImapError):
    """The operation needs a capability the server lacks (for example UIDPLUS)."""

    summary = "IMAP capability missing"


class ImapStale(ImapError):
    """The mailbox UIDVALIDITY changed, so a stored UID no longer names the same message."""

    summary = "IMAP UIDVALIDITY changed"
