"""One authenticated IMAP connection per live session, reused across requests.

A connection is opened at login and kept; it is closed after `imap.idle_close_s`
without use and reopened on demand with credentials decrypted for that request only.
If the server drops it (a restart), the next operation reconnects once and retries; a
command that times out is not retried (the connection is dropped, the next request
reconnects).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mailgate.config import ImapConfig
from mailgate.errors import (
    ApiError,
    AuthRequired,
    StaleMessage,
    UpstreamRejected,
    UpstreamTlsFailed,
    UpstreamUnavailable,
)
from mailgate.logs import log_event
from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.errors import (
    ImapAuthError,
    ImapError,
    ImapNoError,
    ImapStale,
    ImapTlsError,
    ImapUnavailable,
)
from mailgate.mail.imap.protocol import ImapConnection
from mailgate.mail.upstreams import UpstreamDirectory

__all__ = ["Credentials", "ImapPool", "map_imap_error"]

T = TypeVar("T")


@dataclass(frozen=True, repr=False)
class Credentials:
    username: str
    password: str
    # Set for a session signed in through an OpenID provider: AUTHENTICATE with it
    # (OAUTHBEARER, else XOAUTH2) instead of LOGIN; the password is then empty.
    access_token: str = ""

    def __repr__(self) -> str:
        return "Credentials(<redacted>)"


_TIMED_OUT = ImapUnavailable("timeout")


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: MailClient | None = None
    last_used: float = 0.0
    ended: bool = False  # the session ended (close()): never connect for it again


# How long a session that ended here is remembered, so that a request which resumed it
# just before the wipe cannot open a new connection for it afterwards (longer than any
# request can take to reach the pool).
_ENDED_KEEP_S = 900.0


def map_imap_error(exc: ImapError, *, at_login: bool = False) -> ApiError:
    """One place that turns IMAP failures into API errors. Messages are ours, never
    the server's text."""
    reason = getattr(exc, "reason", type(exc).__name__)
    log_event(
        "upstream_error", logging.WARNING, protocol="imap", kind=type(exc).__name__, reason=reason
    )
    if isinstance(exc, ImapStale):
        return StaleMessage()
    if isinstance(exc, ImapAuthError):
        return AuthRequired("The mail server no longer accepts this session's login.")
    if at_login and isinstance(exc, ImapTlsError | ImapUnavailable):
        # Refused, timed out and TLS-failed look the same to the client (SEC-13, SEC-63).
        return UpstreamTlsFailed()
    if isinstance(exc, ImapTlsError):
        return UpstreamTlsFailed()
    if isinstance(exc, ImapUnavailable):
        return UpstreamUnavailable()
    if isinstance(exc, ImapNoError):
        return UpstreamRejected()
    return UpstreamUnavailable()


class ImapPool:
    def __init__(
        self, config: ImapConfig, ssl_context: ssl.SSLContext, upstreams: UpstreamDirectory
    ):
        self._config = config
        self._ssl = ssl_context
        self._upstreams = upstreams
        self._slots: dict[str, _Slot] = {}
        self._ended: dict[str, float] = {}  # session key → when it ended (monotonic)
        # Called with the session's key when its connection is closed for idleness, so
        # features can drop what they keep for an active reader (decrypted messages).
        self.idle_hooks: list[Callable[[str], None]] = []

    async def connect(self, credentials: Credentials) -> MailClient:
        """Open a connection to the address's own IMAP server over verified TLS and log
        in; raises ImapError (ImapAuthError for an address no upstream serves)."""
        upstream = self._upstreams.for_address(credentials.username)
        if upstream is None:
            raise ImapAuthError("unknown_domain")
        conn = await ImapConnection.open(
            upstream.imap.host,
            upstream.imap.port,
            upstream.imap.security,
            self._ssl,
            timeout=self._config.timeout_s,
        )
        try:
            async with asyncio.timeout(self._config.timeout_s):
                if credentials.access_token:
                    await conn.authenticate_bearer(
                        credentials.username,
                        credentials.access_token,
                        upstream.imap.host,
                        upstream.imap.port,
                    )
                else:
                    await conn.login(credentials.username, credentials.password)
        except TimeoutError:
            conn.close()
            raise ImapUnavailable("timeout") from None
        except BaseException:
            conn.close()
            raise
        return MailClient(conn)

    def adopt(self, key: str, client: MailClient) -> None:
        """Keep a logged-in connection for a session (the one made at login)."""
        self._ended.pop(key, None)  # a live session again
        slot = self._slots.setdefault(key, _Slot())
        slot.client = client
        slot.last_used = time.monotonic()

    async def run(
        self,
        key: str,
        credentials: Callable[[], Credentials],
        operation: Callable[[MailClient], Awaitable[T]],
    ) -> T:
        """Run one operation on the session's connection, serialised with the
        session's other requests; reconnect once if the server went away.

        A session that ended (``close``) while the request was on its way gets a 401, and
        no connection: what a connection caches is the session's mail."""
        if key in self._ended:
            raise AuthRequired()
        slot = self._slots.setdefault(key, _Slot())
        async with slot.lock:
            for attempt in (1, 2):
                if slot.ended:
                    raise AuthRequired()
                try:
                    if slot.client is None or slot.client.closed:
                        slot.client = await self.connect(credentials())
                    slot.last_used = time.monotonic()
                    return await operation(slot.client)
                except (ImapUnavailable, TimeoutError) as exc:
                    if slot.client is not None:
                        slot.client.close()
                    slot.client = None
                    failure = exc if isinstance(exc, ImapUnavailable) else _TIMED_OUT
                    # A timeout means a hung server, not a restarted one: retrying would
                    # only double the wait (and hold the session's lock) before the 502.
                    if attempt == 2 or failure.reason == "timeout":
                        raise map_imap_error(failure) from None
                except ImapError as exc:
                    raise map_imap_error(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self, key: str) -> None:
        """The session ended: log its connection out, and refuse it from now on."""
        self._ended[key] = time.monotonic()
        slot = self._slots.pop(key, None)
        if slot is not None:
            slot.ended = True
            if slot.client is not None:
                client, slot.client = slot.client, None
                await _logout_quietly(client)

    async def close_idle(self) -> None:
        now = time.monotonic()
        for key, ended_at in list(self._ended.items()):
            if now - ended_at > _ENDED_KEEP_S:
                del self._ended[key]
        horizon = now - self._config.idle_close_s
        for key, slot in list(self._slots.items()):
            if slot.client is not None and slot.last_used < horizon and not slot.lock.locked():
                client, slot.client = slot.client, None
                for hook in self.idle_hooks:
                    hook(key)
                await _logout_quietly(client)

    async def close_all(self) -> None:
        """Log every connection out (shutdown, or a test forcing reconnects). The sessions
        live on (another instance may serve them from a shared store), so nothing is
        marked ended: a session that ended says so through ``close``."""
        for slot in list(self._slots.values()):
            if slot.client is not None:
                client, slot.client = slot.client, None
                await _logout_quietly(client)

    def open_count(self) -> int:
        return sum(1 for s in self._slots.values() if s.client is not None and not s.client.closed)


async def _logout_quietly(client: MailClient) -> None:
    try:
        async with asyncio.timeout(2):
            await client.logout()
    except (ImapError, TimeoutError, OSError):
        pass
    finally:
        client.close()
