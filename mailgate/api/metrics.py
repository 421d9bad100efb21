"""GET /metrics: Prometheus text, aggregate counters only (docs/design.md, invariant 5).

Registered only when `[metrics] enabled`. Every label value comes from a fixed, small set
chosen here (route templates, status classes, wipe reasons, error kinds): never a user,
an address, an IP, a mailbox or a message. Each app has its own `CollectorRegistry`, so
several apps can run in one process (tests). With `[metrics] port` set, /metrics is served
on that separate HTTPS listener only, not on the main one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from mailgate.errors import ApiError
from mailgate.logs import log_event
from mailgate.services import SERVICES, Services
from mailgate.session.manager import SessionManager
from mailgate.store.interface import StoreError
from mailgate.tls import server_context

__all__ = ["METRICS", "Metrics", "setup"]

METRICS = "metrics"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WIPE_REASONS = ("logout", "idle", "absolute", "shutdown", "relogin", "startup")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _route(request: web.Request) -> str:
    """The route template (`/api/messages/{message_id}`), never the path itself."""
    route = request.match_info.route if request.match_info is not None else None
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else "unmatched"


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class _SessionCounters(Collector):
    """Reads SessionManager.counters at scrape time; reasons outside the fixed set are
    folded into "other" so a new reason cannot create an unexpected label."""

    def __init__(self, sessions: SessionManager):
        self.sessions = sessions

    def collect(self) -> Iterator[CounterMetricFamily]:
        counts = dict(self.sessions.counters)
        for name, key, text in (
            ("mailgate_logins", "login", "Successful logins."),
            ("mailgate_login_failures", "login_failed", "Logins the mail server refused."),
            ("mailgate_login_throttled", "login_throttled", "Logins refused by throttling."),
            (
                "mailgate_login_upstream_errors",
                "login_upstream_error",
                "Logins that failed because the mail server could not be used.",
            ),
        ):
            yield CounterMetricFamily(name, text, value=counts.get(key, 0))
        wipes = CounterMetricFamily(
            "mailgate_session_wipes", "Sessions wiped, by reason.", labels=["reason"]
        )
        by_reason = dict.fromkeys(WIPE_REASONS, 0)
        by_reason["other"] = 0
        for key, value in counts.items():
            if key.startswith("wipe_"):
                reason = key.removeprefix("wipe_")
                by_reason[reason if reason in by_reason else "other"] += value
        for reason, value in by_reason.items():
            wipes.add_metric([reason], value)
        yield wipes


class Metrics:
    """One app's registry and instruments."""

    def __init__(self, svc: Services):
        self.svc = svc
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mailgate_http_requests",
            "HTTP requests answered, by method, route template and status class.",
            ["method", "route", "status_class"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mailgate_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "mailgate_upstream_errors",
            "Requests that failed because of the IMAP or SMTP server, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.live_sessions = Gauge(
            "mailgate_sessions_live",
            "Sessions in the store this instance uses.",
            registry=self.registry,
        )
        self.registry.register(_SessionCounters(svc.sessions))

    def observe(self, request: web.Request, status: int, seconds: float) -> None:
        method = request.method if request.method in _METHODS else "OTHER"
        route = _route(request)
        self.requests.labels(method, route, _status_class(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    async def render(self) -> bytes:
        # On a store error keep the last value; /readyz reports the store.
        with contextlib.suppress(StoreError):
            self.live_sessions.set(len(await self.svc.store.lookups()))
        return generate_latest(self.registry)


def _outer_middleware(metrics: Metrics) -> Callable:
    """Outermost: sees the final status, after errors were rendered and guards ran."""

    @web.middleware
    async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        status: int | None = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = None  # the client went away (or shutdown): nothing was answered
            raise
        finally:
            if status is not None:
                metrics.observe(request, status, time.perf_counter() - start)

    return count_requests


def _inner_middleware(metrics: Metrics) -> Callable:
    """Innermost: sees the API error before it becomes a response, so the kind is known."""

    @web.middleware
    async def count_upstream_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            if exc.code.startswith("upstream_"):
                metrics.upstream_errors.labels(exc.code.removeprefix("upstream_")).inc()
            raise

    return count_upstream_errors


def _handler(metrics: Metrics) -> Handler:
    async def serve_metrics(request: web.Request) -> web.Response:
        body = await metrics.render()
        return web.Response(
            body=body,
            headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
        )

    return serve_metrics


def _separate_listener(app: web.Application, metrics: Metrics) -> None:
    """/metrics on its own address (e.g. an internal interface), HTTPS with the same cert."""
    config = metrics.svc.config
    host = config.metrics.host or "127.0.0.1"
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> None:
        side = web.Application()
        side.router.add_get("/metrics", _handler(metrics), allow_head=False)
        runner = web.AppRunner(side, handle_signals=False, access_log=None)
        await runner.setup()
        ssl_ctx = server_context(config.tls.cert_file, config.tls.key_file)
        site = web.TCPSite(runner, host, config.metrics.port, ssl_context=ssl_ctx)
        await site.start()
        runners.append(runner)
        log_event("metrics_listener_started", logging.INFO, port=config.metrics.port)

    async def stop(app: web.Application) -> None:
        while runners:
            await runners.pop().cleanup()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def setup(app: web.Application) -> None:
    svc = app[SERVICES]
    if not svc.config.metrics.enabled:
        return
    metrics = Metrics(svc)
    svc.extra[METRICS] = metrics
    app.middlewares.insert(0, _outer_middleware(metrics))
    app.middlewares.append(_inner_middleware(metrics))
    if svc.config.metrics.port:
        _separate_listener(app, metrics)
    else:
        app.router.add_get("/metrics", _handler(metrics), allow_head=False)
