"""Session lifecycle: log in, resume from the cookie, record activity, wipe.

Features that keep per-session data (uploads, caches, push streams) register a wipe
hook, so logout, expiry and shutdown remove everything in one place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import Config
from mailgate.errors import AuthFailed, AuthRequired, StoreUnavailable, TooManyRequests
from mailgate.logs import log_event
from mailgate.mail.imap import MailClient
from mailgate.mail.imap.errors import ImapAuthError, ImapError
from mailgate.mail.pool import Credentials, ImapPool, map_imap_error
from mailgate.mail.upstreams import Upstream, UpstreamDirectory
from mailgate.session.crypto import SealError, SessionKeys
from mailgate.session.throttle import LoginThrottle
from mailgate.session.tokens import SessionToken, new_token
from mailgate.store.interface import SessionRecord, SessionStore, StoreError

__all__ = ["LoginHook", "Session", "SessionManager", "WipeHook"]

WipeHook = Callable[[str, str], Awaitable[None]]
TokenRefresher = Callable[[str, str], Awaitable[tuple[str, str, float] | None]]
#: Refresh an access token this long before it expires.
REFRESH_MARGIN_S = 60.0
LoginHook = Callable[["Session"], Awaitable[None]]


@dataclass(repr=False)
class Session:
    """A live session as seen by one request. Holds the keys only for that request."""

    lookup: str
    token: SessionToken
    keys: SessionKeys
    record: SessionRecord
    clock: Clock = field(default=SYSTEM_CLOCK, compare=False)

    def _account(self) -> dict[str, Any]:
        account: dict[str, Any] = json.loads(self.keys.open(self.record.sealed, b"account"))
        return account

    @property
    def email(self) -> str:
        return str(self._account()["email"])

    def credentials(self) -> Credentials:
        """Decrypted just in time for an upstream login; not kept."""
        account = self._account()
        oidc = account.get("oidc")
        token = oidc["access_token"] if isinstance(oidc, dict) else ""
        return Credentials(account["email"], account["password"], token)

    def oidc_tokens(self) -> dict[str, Any] | None:
        """A session signed in through an OpenID provider: its domain and tokens."""
        oidc = self._account().get("oidc")
        return oidc if isinstance(oidc, dict) else None

    def idle_expires_in(self, now: float | None = None) -> int:
        return int(self.record.ttl(now if now is not None else self.clock.now()))


class RefusalTiming:
    """How long a wrong password takes to be refused upstream, so that an address no
    upstream serves is refused after the same time and the domain map cannot be read
    off the response time. Kept in memory only: durations, nothing about who."""

    def __init__(self, initial_s: float, keep: int = 31):
        self._initial = initial_s
        self._seen: deque[float] = deque(maxlen=keep)

    def record(self, seconds: float) -> None:
        self._seen.append(seconds)

    def typical(self) -> float:
        return statistics.median(self._seen) if self._seen else self._initial


class SessionManager:
    def __init__(
        self,
        config: Config,
        store: SessionStore,
        pool: ImapPool,
        throttle: LoginThrottle,
        upstreams: UpstreamDirectory,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.config = config
        self.clock = clock
        self.store = store
        self.pool = pool
        self.throttle = throttle
        self.upstreams = upstreams
        self.refusal_timing = RefusalTiming(config.throttle.unknown_domain_delay_s)
        self.wipe_hooks: list[WipeHook] = []
        # Run after each successful login (e.g. preferences restart their retention clock).
        self.login_hooks: list[LoginHook] = []
        self.counters: dict[str, int] = {}
        # Sessions signed in through an OpenID provider: (domain, refresh token) → (access
        # token, refresh token, expiry) or None when the provider refuses (wired by the
        # composition root to OidcService.refresh).
        self.token_refresher: TokenRefresher | None = None
        self._refreshing: dict[str, asyncio.Lock] = {}

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    async def login(
        self, email: str, password: str, client: str, previous: SessionToken | None
    ) -> Session:
        """Verify the account against its upstream IMAP server and open a session."""
        upstream = self.upstreams.for_address(email)
        upstream_name = upstream.name if upstream is not None else None
        wait = self.throttle.retry_after(email, client, upstream_name)
        if wait:
            log_event("login_throttled", logging.WARNING)
            self._count("login_throttled")
            raise TooManyRequests(wait)
        if upstream is None:
            await self._refuse_unknown_domain(email, client)
        credentials = Credentials(email, password)
        started = time.monotonic()
        try:
            mail_client = await self.pool.connect(credentials)
        except ImapAuthError:
            self.refusal_timing.record(time.monotonic() - started)
            self.throttle.failed(email, client, upstream_name)
            self._log_login_failed("auth", upstream)
            self._count("login_failed")
            raise AuthFailed() from None
        except ImapError as exc:
            # Not the user's fault; which server failed is what an operator needs (SEC-57).
            self._log_login_failed("upstream", upstream)
            self._count("login_upstream_error")
            raise map_imap_error(exc, at_login=True) from None
        self.throttle.succeeded(email)
        account = {"email": email, "password": password}
        return await self._open(account, mail_client, upstream, previous)

    async def login_with_token(
        self,
        email: str,
        oidc: dict[str, Any],
        client: str,
        previous: SessionToken | None,
    ) -> Session:
        """Open a session for an account an OpenID provider vouched for: the IMAP server
        is signed in to with the access token (OAUTHBEARER or XOAUTH2), and the tokens
        are sealed with the session like a password is."""
        upstream = self.upstreams.for_address(email)
        if upstream is None:
            raise AuthFailed()
        credentials = Credentials(email, "", oidc["access_token"])
        try:
            mail_client = await self.pool.connect(credentials)
        except ImapAuthError:
            self._log_login_failed("auth", upstream)
            self._count("login_failed")
            raise AuthFailed() from None
        except ImapError as exc:
            self._log_login_failed("upstream", upstream)
            self._count("login_upstream_error")
            raise map_imap_error(exc, at_login=True) from None
        account = {"email": email, "password": "", "oidc": oidc}
        return await self._open(account, mail_client, upstream, previous)

    async def _open(
        self,
        account_fields: dict[str, Any],
        mail_client: MailClient,
        upstream: Upstream,
        previous: SessionToken | None,
    ) -> Session:
        if previous is not None:
            try:
                # Only a cookie that opens its session may end it: its id alone may not.
                if await self.resume(previous) is not None:
                    await self.wipe(previous.lookup, "relogin")
            except StoreUnavailable:
                mail_client.close()
                raise
        token = new_token()
        keys = SessionKeys(token.key, token.lookup)
        now = self.clock.now()
        account = json.dumps(account_fields).encode()
        record = SessionRecord(
            created=now,
            last_seen=now,
            idle_timeout_s=self.config.session.idle_timeout_s,
            absolute_deadline=now + self.config.session.absolute_timeout_s,
            sealed=keys.seal(account, b"account"),
        )
        try:
            await self.store.create(token.lookup, record)
        except StoreError:
            mail_client.close()
            raise StoreUnavailable() from None
        self.pool.adopt(token.lookup, mail_client)
        # The operator's server, never the user: SEC-57 wants the upstream host.
        log_event("login", logging.INFO, upstream="imap", upstream_host=upstream.imap.host)
        self._count("login")
        session = Session(token.lookup, token, keys, record, self.clock)
        for hook in self.login_hooks:
            try:
                await hook(session)
            except Exception as exc:  # a feature's hook must not undo a good login
                log_event("login_hook_failed", logging.ERROR, error_class=type(exc).__name__)
        return session

    async def _refuse_unknown_domain(self, email: str, client: str) -> NoReturn:
        """The same 401, after the same delay, as a wrong password: whether a domain is
        served cannot be told from outside. It counts against the account and the client
        like a wrong password, and against no upstream (none was asked)."""
        await asyncio.sleep(self.refusal_timing.typical())
        self.throttle.failed(email, client, None)
        self._log_login_failed("auth", None)
        self._count("login_failed")
        raise AuthFailed()

    def _log_login_failed(self, reason: str, upstream: Upstream | None) -> None:
        log_event(
            "login_failed",
            logging.INFO,
            reason=reason,
            upstream="imap",
            # No upstream: an address the map does not serve (the same 401 outside).
            upstream_host=upstream.imap.host if upstream is not None else "",
        )

    async def resume(self, token: SessionToken) -> Session | None:
        """The live session the cookie names, or None (unknown, expired or forged)."""
        try:
            record = await self.store.get(token.lookup)
        except StoreError:
            raise StoreUnavailable() from None
        if record is None:
            return None
        keys = SessionKeys(token.key, token.lookup)
        session = Session(token.lookup, token, keys, record, self.clock)
        try:
            keys.open(record.sealed, b"account")
        except SealError:
            # A cookie whose id matches but whose key does not: not this session's owner.
            return None
        return session

    async def fresh(self, session: Session) -> Session:
        """A provider-signed session whose access token is about to expire gets a new one
        (the refresh token may rotate), sealed back into its record; a refused refresh
        ends the session. One refresh at a time per session."""
        tokens = session.oidc_tokens()
        if tokens is None or self.token_refresher is None:
            return session
        if float(tokens["expires_at"]) - self.clock.now() > REFRESH_MARGIN_S:
            return session
        lock = self._refreshing.setdefault(session.lookup, asyncio.Lock())
        try:
            async with lock:
                try:
                    record = await self.store.get(session.lookup)
                except StoreError:
                    raise StoreUnavailable() from None
                if record is None:
                    raise AuthRequired()
                session.record = record
                account = session._account()
                tokens = account["oidc"]
                if float(tokens["expires_at"]) - self.clock.now() > REFRESH_MARGIN_S:
                    return session  # another request refreshed it meanwhile
                result = await self.token_refresher(tokens["domain"], tokens["refresh_token"])
                if result is None:
                    log_event("token_refresh_failed", logging.INFO)
                    await self.wipe(session.lookup, "refresh_failed")
                    raise AuthRequired("The identity provider ended this session.")
                access, refresh, expires_at = result
                tokens.update(access_token=access, refresh_token=refresh, expires_at=expires_at)
                sealed = session.keys.seal(json.dumps(account).encode(), b"account")
                try:
                    if not await self.store.reseal(session.lookup, sealed):
                        raise AuthRequired()
                except StoreError:
                    raise StoreUnavailable() from None
                session.record.sealed = sealed
                self._count("token_refreshed")
                return session
        finally:
            if not lock.locked():
                self._refreshing.pop(session.lookup, None)

    async def touch(self, session: Session) -> None:
        now = self.clock.now()
        session.record.last_seen = now
        try:
            await self.store.touch(session.lookup, now)
        except StoreError:
            raise StoreUnavailable() from None

    async def logout(self, session: Session) -> None:
        await self.wipe(session.lookup, "logout")

    async def wipe(self, lookup: str, reason: str) -> None:
        """Delete the record and everything hooked to it; safe to call twice."""
        try:
            existed = await self.store.delete(lookup)
        except StoreError:
            raise StoreUnavailable() from None
        await self.pool.close(lookup)
        for hook in self.wipe_hooks:
            try:
                await hook(lookup, reason)
            except Exception as exc:  # one failing hook must not stop the others
                log_event("wipe_hook_failed", logging.ERROR, error_class=type(exc).__name__)
        if existed:
            log_event("session_wiped", logging.INFO, reason=reason)
            self._count(f"wipe_{reason}")

    async def reap(self) -> int:
        """Wipe every session past a deadline; returns how many."""
        try:
            expired = await self.store.expired(self.clock.now())
        except StoreError:
            return 0
        for lookup, reason in expired:
            await self.wipe(lookup, reason)
        await self.pool.close_idle()
        return len(expired)

    async def wipe_all(self, reason: str) -> None:
        try:
            lookups = await self.store.lookups()
        except StoreError:
            lookups = []
        for lookup in lookups:
            await self.wipe(lookup, reason)
        await self.pool.close_all()
