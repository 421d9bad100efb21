"""/healthz (liveness) and /readyz (store and upstream reachable); no personal data."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mailgate.http.json_io import json_response
from mailgate.services import services
from mailgate.store.interface import StoreError

__all__ = ["setup"]


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    svc = services(request)
    checks: dict[str, str] = {}
    try:
        await svc.store.ping()
        checks["store"] = "ok"
    except StoreError:
        checks["store"] = "unavailable"
    # Every IMAP server in use (one per distinct host and port), checked at once. One
    # domain's server down is "partial" and still ready: every instance shares that
    # outage, and taking them all out of a balancer would stop the other domains too.
    endpoints = sorted({(u.imap.host, u.imap.port) for u in svc.upstreams.all()})
    results = await asyncio.gather(*(_reachable(host, port) for host, port in endpoints))
    reachable = sum(r == "ok" for r in results)
    checks["imap"] = (
        "ok" if reachable == len(results) else "partial" if reachable else "unavailable"
    )
    ok = all(v in ("ok", "partial") for v in checks.values())
    return json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )


async def _reachable(host: str, port: int) -> str:
    try:
        async with asyncio.timeout(3):
            _, writer = await asyncio.open_connection(host, port)
        writer.close()
        return "ok"
    except (OSError, TimeoutError):
        return "unavailable"


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
