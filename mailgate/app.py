"""The aiohttp application factory and the HTTPS server runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web

from mailgate.api import (
    contacts,
    conversations,
    events,
    health,
    mailboxes,
    messages,
    metrics,
    oidc,
    openapi,
    preferences,
    proxy,
    search,
    send,
    session,
    sieve,
    ui,
    uploads,
)
from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.composition import Lifecycle, build_services
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
from mailgate.mail.reading.workers import WorkerFailed, WorkerTimeout
from mailgate.services import SERVICES
from mailgate.session.reaper import REAPER
from mailgate.store.interface import SessionStore
from mailgate.tls import server_context

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


# Each feature registers its routes and reads the services it needs from `Services`;
# the order matters only for openapi, which checks at start-up that every route is declared.
FEATURES: tuple[Feature, ...] = (
    health.setup,
    session.setup,
    oidc.setup,
    mailboxes.setup,
    search.setup,
    messages.setup,
    conversations.setup,
    uploads.setup,
    send.setup,
    preferences.setup,
    sieve.setup,
    contacts.setup,
    events.setup,
    proxy.setup,
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
    `store` replaces the configured session store (tests); `clock` is what sessions, their
    store, the reaper and the login throttle read the time from (tests pass a
    `mailgate.testing.clock.ManualClock`)."""
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
    svc = build_services(config, store=store, clock=clock)
    app[SERVICES] = svc
    app[REAPER] = svc.reaper
    app.on_response_prepare.append(add_security_headers)
    for feature in FEATURES:
        feature(app)
    if config.ui.enabled:
        ui.setup(app)
    lifecycle = Lifecycle(svc)
    app.on_startup.append(lifecycle.startup)
    app.on_shutdown.append(lifecycle.shutdown)
    app.on_cleanup.append(lifecycle.cleanup)
    return app


async def _start_reading_workers(app: web.Application) -> None:
    """Start the reading workers before the first request rather than with the first
    open, which would wait for the fork server and both workers (~110 ms more on the
    2-core bench machine). Should they fail now, the first open tries again."""
    try:
        await app[SERVICES].reading.start()
    except (WorkerFailed, WorkerTimeout, OSError) as exc:
        log_event("reading_workers_deferred", logging.WARNING, error=type(exc).__name__)


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
    await _start_reading_workers(app)
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
