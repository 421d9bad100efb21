"""The aiohttp application factory and the HTTPS server runner."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from mailgate.api import (
    events,
    health,
    mailboxes,
    messages,
    metrics,
    openapi,
    preferences,
    proxy,
    send,
    session,
    ui,
    uploads,
)
from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import Config
from mailgate.http.access_log import PrivateAccessLogger
from mailgate.http.headers import add_security_headers
from mailgate.http.middlewares import (
    error_middleware,
    make_body_deadline_middleware,
    make_guard_middleware,
)
from mailgate.http.server import HttpsSite, MailgateRunner
from mailgate.logs import log_event
from mailgate.mail.pool import ImapPool
from mailgate.services import SERVICES, Services
from mailgate.session.manager import SessionManager
from mailgate.session.reaper import REAPER, Reaper
from mailgate.session.throttle import LoginThrottle
from mailgate.store.interface import SessionStore
from mailgate.store.memory import MemoryStore
from mailgate.tls import server_context, upstream_context

__all__ = ["allowed_hosts", "create_app", "run_server"]

Feature = Callable[[web.Application], None]


def allowed_hosts(config: Config, port: int | None = None) -> frozenset[str]:
    """The Host header values this server answers (SEC-64)."""
    if config.server.public_url:
        netloc = config.server.public_url.removeprefix("https://").split("/")[0].lower()
        hosts = {netloc}
        if netloc.endswith(":443"):
            hosts.add(netloc.removesuffix(":443"))
        return frozenset(hosts)
    port = port or config.server.port
    names = {"localhost", "127.0.0.1", "[::1]", config.server.host.lower()}
    return frozenset(f"{n}:{port}" for n in names)


def _make_store(config: Config, clock: Clock) -> SessionStore:
    if config.store.backend == "redis":
        from mailgate.store.redis import RedisStore

        return RedisStore(config.store.redis_url, clock)
    return MemoryStore(clock)


# Feature modules register their routes; openapi comes last so it sees every route.
FEATURES: tuple[Feature, ...] = (
    health.setup,
    session.setup,
    mailboxes.setup,
    messages.setup,
    uploads.setup,
    send.setup,
    preferences.setup,
    events.setup,
    proxy.setup,  # after preferences, which loads the server secret it signs with
    metrics.setup,
    openapi.setup,
)


def create_app(
    config: Config,
    *,
    store: SessionStore | None = None,
    port: int | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> web.Application:
    """Build the application. `port` is the real listen port when 0 was configured;
    `clock` is what sessions, their store, the reaper and the login throttle read the
    time from (tests pass a `mailgate.testing.clock.ManualClock`)."""
    app = web.Application(
        middlewares=[
            make_body_deadline_middleware(config.server.request_body_timeout_s),
            error_middleware,
            make_guard_middleware(allowed_hosts(config, port)),
        ],
        client_max_size=config.limits.json_max_bytes,
        handler_args={
            "max_field_size": 8190,
            "max_line_size": 8190,
            # aiohttp closes a connection whose request has not fully arrived when this
            # runs out (from the connection's start or the previous response): the
            # slowloris bound. It also ends idle keep-alive connections.
            "keepalive_timeout": config.server.request_header_timeout_s,
        },
    )
    store = store or _make_store(config, clock)
    upstream_ssl = upstream_context(config.upstream.ca_file or None)
    pool = ImapPool(config.imap, upstream_ssl)
    throttle = LoginThrottle(config.throttle, clock)
    manager = SessionManager(config, store, pool, throttle, clock)
    app[SERVICES] = Services(config, store, pool, manager, upstream_ssl)
    app.on_response_prepare.append(add_security_headers)
    for feature in FEATURES:
        feature(app)
    if config.ui.enabled:
        ui.setup(app)
    reaper = app[REAPER] = Reaper(manager, config.session.reap_interval_s, clock)

    async def on_startup(app: web.Application) -> None:
        if config.store.backend == "memory":
            await manager.wipe_all("startup")  # leftovers of a crash, if any
        reaper.start()

    async def on_cleanup(app: web.Application) -> None:
        await reaper.stop()
        # Shutdown wipes every session this instance can see when it owns the store.
        if config.store.backend == "memory":
            await manager.wipe_all("shutdown")
        else:
            await pool.close_all()
        await store.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def run_server(
    config: Config,
    *,
    ready: Callable[[str], Awaitable[None] | None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve HTTPS until SIGTERM/SIGINT (or `stop` is set), then drain and wipe."""
    ssl_ctx = server_context(config.tls.cert_file, config.tls.key_file)
    app = create_app(config)
    runner = MailgateRunner(
        app,
        access_log_class=PrivateAccessLogger,
        handle_signals=False,
        shutdown_timeout=config.server.shutdown_timeout_s,
    )
    await runner.setup()
    site = HttpsSite(
        runner,
        config.server.host,
        config.server.port,
        ssl_context=ssl_ctx,
        backlog=1024,
        handshake_timeout_s=config.server.request_header_timeout_s,
    )
    await site.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    local = config.server.host in ("127.0.0.1", "::1")
    url = f"https://{'localhost' if local else config.server.host}:{config.server.port}"
    log_event("server_started", port=config.server.port)
    if ready is not None:
        result = ready(url)
        if asyncio.iscoroutine(result):
            await result
    await stop.wait()
    log_event("server_stopping")
    await runner.cleanup()
    log_event("server_stopped")
