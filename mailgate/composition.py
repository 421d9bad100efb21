"""The composition root: every service built from the configuration, in one place.

`build_services` chooses the backends once (memory or Redis), loads the server secret,
and wires the hooks that tie services together (a wiped session's uploads, cached
messages and push feed go with it; a login restarts the preference retention clock).
`Lifecycle` starts and stops what runs in the background. The feature modules in
mailgate/api/ only register routes and read the typed fields of `Services`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from pathlib import Path

from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import Config
from mailgate.logs import log_event
from mailgate.mail.contacts import ContactsService
from mailgate.mail.conversations import ConversationService
from mailgate.mail.correspondents import CorrespondentsService
from mailgate.mail.pool import ImapPool
from mailgate.mail.reading.service import ReadingService
from mailgate.mail.reading.workers import WorkerPool
from mailgate.mail.sieve import SieveService
from mailgate.mail.upstreams import UpstreamDirectory
from mailgate.metrics import Metrics
from mailgate.prefs import PreferenceService
from mailgate.prefs.secret import AccountKeys, load_server_secret
from mailgate.prefs.store import (
    DB_FILE_NAME,
    PreferenceStore,
    RedisPreferenceStore,
    SqlitePreferenceStore,
)
from mailgate.proxy.service import ImageProxy
from mailgate.push.hub import PushHub
from mailgate.services import Services
from mailgate.session.manager import Session, SessionManager
from mailgate.session.oidc import OidcService
from mailgate.session.reaper import Reaper
from mailgate.session.throttle import LoginThrottle
from mailgate.store.flows import FlowStore, MemoryFlowStore
from mailgate.store.interface import SessionStore
from mailgate.store.memory import MemoryStore
from mailgate.tls import upstream_context
from mailgate.vault.files import FileVault
from mailgate.vault.interface import Vault

__all__ = ["Lifecycle", "build_services"]

_DAY_S = 86400.0


# Worker processes reading mail: small and fixed (the machine's cores serve requests too).
# They start on the first open: a spawned interpreter costs CPU that start-up needs.
READING_WORKERS = 2


def _data_dir(config: Config) -> tuple[Path, bool]:
    """The data directory, and whether it is a temporary one this process owns.

    With no `[data] dir` a private temporary one is made per process and removed at
    shutdown: fine for the demo, but preferences and the server secret then die with
    the process; set a data directory for anything else.
    """
    if config.data.dir:
        path = Path(config.data.dir)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path, False
    return Path(tempfile.mkdtemp(prefix="mailgate-data-")), True


def _backends(
    config: Config, data_dir: Path, store: SessionStore | None, clock: Clock
) -> tuple[SessionStore, Vault, PreferenceStore]:
    """Sessions, uploads and preferences: all in this process, or all in Redis."""
    if config.store.backend == "redis":
        from mailgate.store.redis import RedisStore
        from mailgate.vault.redis import RedisVault

        target = config.store
        return (
            store or RedisStore(target, clock),
            RedisVault(target, default_ttl_s=config.session.absolute_timeout_s),
            RedisPreferenceStore(target),
        )
    return store or MemoryStore(clock), FileVault(), SqlitePreferenceStore(data_dir / DB_FILE_NAME)


def _flow_store(config: Config) -> FlowStore:
    """Sign-in flows live where the sessions live: any instance may finish one."""
    if config.store.backend == "redis":
        from mailgate.store.redis import RedisFlowStore

        return RedisFlowStore(config.store)
    return MemoryFlowStore()


def build_services(
    config: Config, *, store: SessionStore | None = None, clock: Clock = SYSTEM_CLOCK
) -> Services:
    """Every service of one app. `store` replaces the configured session store (tests);
    `clock` is the time sessions, their store, the reaper and the throttle read."""
    data_dir, temporary = _data_dir(config)
    secret = load_server_secret(config.data, data_dir)
    store, vault, preference_store = _backends(config, data_dir, store, clock)
    upstream_ssl = upstream_context(config.upstream.ca_file or None)
    upstreams = UpstreamDirectory(config)
    pool = ImapPool(config.imap, upstream_ssl, upstreams)
    sessions = SessionManager(
        config, store, pool, LoginThrottle(config.throttle, clock), upstreams, clock
    )
    retention_s = max(0.0, config.preferences.retention_days * _DAY_S)
    preferences = PreferenceService(preference_store, AccountKeys(secret), retention_s)
    reading = ReadingService(pool, WorkerPool(READING_WORKERS))
    push_hub = PushHub(pool, config.imap, config.push)
    svc = Services(
        config=config,
        store=store,
        pool=pool,
        sessions=sessions,
        reaper=Reaper(sessions, config.session.reap_interval_s, clock),
        upstream_ssl=upstream_ssl,
        upstreams=upstreams,
        server_secret=secret,
        data_dir=data_dir,
        data_dir_is_temporary=temporary,
        vault=vault,
        preferences=preferences,
        reading=reading,
        push_hub=push_hub,
        image_proxy=ImageProxy(config.proxy, secret) if config.proxy.enabled else None,
        metrics=Metrics(sessions, store, reading.workers) if config.metrics.enabled else None,
        sieve=SieveService(config.sieve, upstream_ssl, upstreams),
        conversations=ConversationService(pool, reading.forget),
        oidc=OidcService(config, upstream_ssl, clock, _flow_store(config)),
        contacts=ContactsService(config.contacts, upstream_ssl, upstreams),
        correspondents=CorrespondentsService(),
    )
    sessions.token_refresher = svc.oidc.refresh
    _wire(svc)
    return svc


def _wire(svc: Services) -> None:
    """A session's data goes when it is wiped; a login restarts preference retention."""
    reading, vault, hub, preferences = svc.reading, svc.vault, svc.push_hub, svc.preferences

    async def drop_cached(lookup: str, reason: str) -> None:
        reading.wipe(lookup)
        svc.correspondents.forget(lookup)

    async def wipe_uploads(lookup: str, reason: str) -> None:
        await vault.wipe(lookup)

    async def end_push(lookup: str, reason: str) -> None:
        await hub.end(lookup)

    async def on_login(session: Session) -> None:
        await preferences.logged_in(session.email)

    svc.sessions.wipe_hooks.extend((drop_cached, wipe_uploads, end_push))
    svc.sessions.login_hooks.append(on_login)
    # A session nobody has used for imap.idle_close_s keeps no decrypted mail in memory.
    svc.pool.idle_hooks.append(reading.forget)
    # Nor the correspondents learned for suggestions (also bounds them on an instance that
    # never sees the wipe of a session another instance ended, with a shared Redis store).
    svc.pool.idle_hooks.append(svc.correspondents.forget)


def _purge_interval(retention_s: float) -> float:
    return min(3600.0, max(0.2, retention_s / 10))


class Lifecycle:
    """Start-up, shutdown and clean-up of one app's services (aiohttp signal handlers)."""

    def __init__(self, svc: Services):
        self.svc = svc
        self._tasks: list[asyncio.Task[None]] = []

    def _owns_store(self) -> bool:
        # With memory, this process holds every session: it may wipe them all.
        return self.svc.config.store.backend == "memory"

    async def startup(self, _app: object = None) -> None:
        svc = self.svc
        if self._owns_store():
            await svc.sessions.wipe_all("startup")  # leftovers of a crash, if any
            await svc.vault.wipe_all()
        svc.reaper.start()
        self._tasks.append(asyncio.create_task(self._purge_forever(), name="mailgate-prefs-purge"))

    async def shutdown(self, _app: object = None) -> None:
        await self.svc.push_hub.end_all()  # open streams end now; the drain need not wait

    async def cleanup(self, _app: object = None) -> None:
        svc = self.svc
        await svc.reaper.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        # Shutdown wipes every session this instance can see when it owns the store.
        if self._owns_store():
            await svc.sessions.wipe_all("shutdown")
        else:
            await svc.pool.close_all()
        await svc.vault.close()
        await svc.reading.close()
        await svc.preferences.store.close()
        if svc.image_proxy is not None:
            with contextlib.suppress(Exception):
                await svc.image_proxy.close()
        await svc.oidc.close()
        await svc.store.close()
        if svc.data_dir_is_temporary:
            shutil.rmtree(svc.data_dir, ignore_errors=True)

    async def _purge_forever(self) -> None:
        preferences = self.svc.preferences
        while True:
            try:
                erased = await preferences.purge()
                if erased:
                    log_event("preferences_purged", logging.INFO, count=erased)
            except Exception as exc:  # keep purging after a passing fault
                log_event(
                    "preferences_purge_failed", logging.WARNING, error_class=type(exc).__name__
                )
            await asyncio.sleep(_purge_interval(preferences.retention_s))
