"""GET /metrics: Prometheus text, aggregate counters only (docs/design.md, invariant 5).

Registered only when `[metrics] enabled`; the instruments are mailgate/metrics.py, built
by the composition root. With `[metrics] port` set, /metrics is served on that separate
HTTPS listener only, not on the main one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from mailgate.config import Config
from mailgate.errors import ApiError
from mailgate.logs import log_event
from mailgate.metrics import LAG_SAMPLE_INTERVAL_S, Metrics
from mailgate.services import SERVICES
from mailgate.tls import server_context

__all__ = ["setup"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route(request: web.Request) -> str:
    """The route template (`/api/messages/{message_id}`), never the path itself."""
    route = request.match_info.route if request.match_info is not None else None
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else "unmatched"


def _outer_middleware(metrics: Metrics) -> Middleware:
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
                metrics.observe(
                    request.method, _route(request), status, time.perf_counter() - start
                )

    return count_requests


def _inner_middleware(metrics: Metrics) -> Middleware:
    """Innermost: sees the API error before it becomes a response, so the kind is known."""

    @web.middleware
    async def count_upstream_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            if exc.code.startswith("upstream_"):
                metrics.upstream_errors.labels(exc.code.removeprefix("upstream_")).inc()
            elif exc.code == "store_unavailable":
                metrics.store_unavailable.inc()
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


def _separate_listener(app: web.Application, config: Config, metrics: Metrics) -> None:
    """/metrics on its own address (e.g. an internal interface), HTTPS with the same cert."""
    host = config.metrics.host or "127.0.0.1"
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> None:
        side = web.Application()
        side.router.add_get("/metrics", _handler(metrics))
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


def _lag_sampler(app: web.Application, metrics: Metrics) -> None:
    """A task that sleeps LAG_SAMPLE_INTERVAL_S and records how much later than that it
    woke up: the event loop's lag (blocking calls, CPU starvation, overload)."""
    tasks: list[asyncio.Task[None]] = []

    async def sample() -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_SAMPLE_INTERVAL_S)
            metrics.loop_lag.observe(max(0.0, loop.time() - start - LAG_SAMPLE_INTERVAL_S))

    async def start(app: web.Application) -> None:
        tasks.append(asyncio.create_task(sample(), name="mailgate-loop-lag"))

    async def stop(app: web.Application) -> None:
        while tasks:
            task = tasks.pop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def setup(app: web.Application) -> None:
    svc = app[SERVICES]
    metrics = svc.metrics
    if metrics is None:
        return
    app.middlewares.insert(0, _outer_middleware(metrics))
    app.middlewares.append(_inner_middleware(metrics))
    _lag_sampler(app, metrics)
    if svc.config.metrics.port:
        _separate_listener(app, svc.config, metrics)
    else:
        app.router.add_get("/metrics", _handler(metrics))
