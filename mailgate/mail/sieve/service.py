"""Vacation and filters on the user's own server: one short ManageSieve connection per call.

mailgate owns exactly one script, named ``mailgate``, recognised by its header
(script.py). Another client's script is never overwritten and never deleted: while one is
active, a save writes nothing (ForeignScript) unless the user asked to activate mailgate's
(``activate=True``); then mailgate's script becomes the active one and the other stays
stored. A script named ``mailgate`` without mailgate's header is left alone (NameTaken).
Saves of one session are serialised here (a read-modify-write of one script).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from mailgate.config import SieveConfig
from mailgate.logs import log_event
from mailgate.mail.upstreams import Endpoint, UpstreamDirectory

from .errors import SieveRefused
from .protocol import SieveConnection
from .rules import Filter, Rules, Vacation
from .sasl import SaslMechanism
from .script import generate, parse_rules

__all__ = [
    "SCRIPT_NAME",
    "ForeignScript",
    "NameTaken",
    "SaveResult",
    "SieveService",
    "SieveState",
]

SCRIPT_NAME = "mailgate"
#: How much of another client's script is shown (the rest is cut, never parsed).
FOREIGN_TEXT_MAX = 256 * 1024


class ForeignScript(Exception):
    """Another client's script is active and the user did not ask to replace it."""

    def __init__(self, name: str) -> None:
        super().__init__("another script is active")
        self.name = name


class NameTaken(Exception):
    """A script named like mailgate's exists but was not written by mailgate."""


@dataclass(frozen=True, slots=True)
class SieveState:
    """What the server holds: whose script is active, and mailgate's rules."""

    active: Literal["mailgate", "foreign", "none"]
    foreign_name: str | None
    foreign_text: str | None
    foreign_truncated: bool
    rules: Rules
    extensions: frozenset[str]
    max_redirects: int | None
    scripts: tuple[tuple[str, bool, bool], ...]  # (name, active, mailgate's)


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What was saved; mailgate's script is the active one afterwards."""

    rules: Rules


class SieveService:
    """Filters and vacation on the ManageSieve server of each account's own domain (the
    domain map's `sieve_host`, or [sieve] without a map)."""

    def __init__(
        self, config: SieveConfig, ssl_context: ssl.SSLContext, upstreams: UpstreamDirectory
    ) -> None:
        self.config = config
        self._ssl = ssl_context
        self._upstreams = upstreams
        # Kept alive only while a save holds or waits for it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def endpoint_for(self, address: str) -> Endpoint | None:
        """The account's ManageSieve server; None when its domain has none."""
        upstream = self._upstreams.for_address(address)
        return upstream.sieve if upstream is not None else None

    @contextlib.asynccontextmanager
    async def _connection(
        self, endpoint: Endpoint, auth: SaslMechanism
    ) -> AsyncIterator[SieveConnection]:
        conn = await SieveConnection.open(
            endpoint.host,
            endpoint.port,
            endpoint.security,
            self._ssl,
            timeout=self.config.timeout_s,
        )
        try:
            await conn.authenticate(auth)
            yield conn
        finally:
            await conn.logout()

    @contextlib.asynccontextmanager
    async def _serialised(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        async with lock:
            yield

    async def _read_state(self, conn: SieveConnection) -> SieveState:
        scripts = await conn.list_scripts()
        listed: list[tuple[str, bool, bool]] = []
        rules: Rules | None = None
        foreign_name = foreign_text = None
        truncated = False
        active: Literal["mailgate", "foreign", "none"] = "none"
        for info in scripts:
            ours = False
            if info.name == SCRIPT_NAME or info.active:
                text = await conn.get_script(info.name)
                parsed = parse_rules(text) if info.name == SCRIPT_NAME else None
                ours = parsed is not None
                if ours:
                    rules = parsed
                if info.active:
                    if ours:
                        active = "mailgate"
                    else:
                        active = "foreign"
                        foreign_name = info.name
                        truncated = len(text) > FOREIGN_TEXT_MAX
                        foreign_text = text[:FOREIGN_TEXT_MAX]
            listed.append((info.name, info.active, ours))
        return SieveState(
            active=active,
            foreign_name=foreign_name,
            foreign_text=foreign_text,
            foreign_truncated=truncated,
            rules=rules or Rules(),
            extensions=conn.capabilities.sieve,
            max_redirects=conn.capabilities.max_redirects,
            scripts=tuple(listed),
        )

    async def state(self, endpoint: Endpoint, auth: SaslMechanism) -> SieveState:
        async with self._connection(endpoint, auth) as conn:
            return await self._read_state(conn)

    async def save_vacation(
        self,
        key: str,
        endpoint: Endpoint,
        auth: SaslMechanism,
        vacation: Vacation,
        *,
        activate: bool,
    ) -> SaveResult:
        return await self._save(key, endpoint, auth, activate, vacation=vacation)

    async def save_filters(
        self,
        key: str,
        endpoint: Endpoint,
        auth: SaslMechanism,
        filters: tuple[Filter, ...],
        *,
        activate: bool,
    ) -> SaveResult:
        return await self._save(key, endpoint, auth, activate, filters=filters)

    async def _save(
        self,
        key: str,
        endpoint: Endpoint,
        auth: SaslMechanism,
        activate: bool,
        *,
        vacation: Vacation | None = None,
        filters: tuple[Filter, ...] | None = None,
    ) -> SaveResult:
        async with self._serialised(key), self._connection(endpoint, auth) as conn:
            state = await self._read_state(conn)
            taken = any(name == SCRIPT_NAME and not ours for name, _, ours in state.scripts)
            if taken:
                raise NameTaken()
            if state.active == "foreign" and not activate and state.foreign_name:
                raise ForeignScript(state.foreign_name)
            rules = Rules(
                vacation if vacation is not None else state.rules.vacation,
                filters if filters is not None else state.rules.filters,
            )
            script = generate(
                rules, conn.capabilities.sieve, max_redirects=conn.capabilities.max_redirects
            )
            # PUTSCRIPT checks the script first and replaces ours atomically (RFC 5804 2.6).
            await conn.put_script(SCRIPT_NAME, script)
            if state.active != "mailgate":
                await conn.set_active(SCRIPT_NAME)
                log_event(
                    "sieve_activated",
                    logging.INFO,
                    replaced=state.active == "foreign",
                )
            log_event("sieve_saved", logging.INFO, filters=len(rules.filters))
            return SaveResult(rules)


def refused_message(exc: SieveRefused) -> str:
    """The server's own words for the user (never for the log)."""
    return exc.server_message or "The mail server refused the rules."
