"""ManageSieve client exceptions.

Like the IMAP ones, each ``str()`` is a fixed sentence plus a short ``reason`` token of
ours, safe to log. A refused script carries the server's own explanation separately in
``server_message``: it is meant for the user who wrote the rules, never for the logs.
"""

from __future__ import annotations

__all__ = [
    "SieveAuthError",
    "SieveError",
    "SieveProtocolError",
    "SieveRefused",
    "SieveTlsError",
    "SieveUnavailable",
]


class SieveError(Exception):
    """Base class; ``reason`` is a short snake_case token safe for logs."""

    summary = "ManageSieve error"

    def __init__(self, reason: str = "error") -> None:
        self.reason = reason
        super().__init__(f"{self.summary} ({reason})")


class SieveUnavailable(SieveError):
    """The server cannot be reached, timed out, said BYE or closed the connection."""

    summary = "ManageSieve server unavailable"


class SieveProtocolError(SieveUnavailable):
    """The server sent something we cannot parse; the connection has been closed."""

    summary = "ManageSieve protocol violation"


class SieveTlsError(SieveError):
    """No verified TLS: handshake or certificate failure, STARTTLS missing, injection."""

    summary = "ManageSieve TLS failure"


class SieveAuthError(SieveError):
    """The server refused the login, or offers no mechanism we can use."""

    summary = "ManageSieve login refused"


class SieveRefused(SieveError):
    """A command got NO. ``code`` is the response code (upper case) or None;
    ``server_message`` is the server's human-readable text (for the user only)."""

    summary = "ManageSieve command refused"

    def __init__(self, reason: str, code: str | None = None, server_message: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.server_message = server_message
