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
    checks["imap"] = await _reachable(svc.config.imap.host, svc.config.imap.port)
    ok = all(v == "ok" for v in checks.values())
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
