"""GET/PUT/DELETE /api/preferences (docs/api.md, "Preferences").

The service behind it (storage, sealing, the retention purge and the login hook that
restarts its clock) is built by mailgate/composition.py: SQLite in the data directory
(`[data] dir`), or Redis when `[store] backend = "redis"`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from mailgate.http.json_io import json_response
from mailgate.prefs import PreferenceService
from mailgate.services import SERVICES, services

from .auth import require_session
from .models.base import read_body
from .models.preferences import Preferences

__all__ = ["preferences_of", "setup"]


def preferences_of(app: web.Application) -> PreferenceService:
    return app[SERVICES].preferences


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _body(preferences: dict, retained_until: float | None) -> dict:
    return {"preferences": preferences, "retained_until": _iso(retained_until)}


async def get_preferences(request: web.Request) -> web.Response:
    session = await require_session(request)
    prefs, until = await preferences_of(request.app).load(session.email)
    return json_response(_body(prefs, until))


async def put_preferences(request: web.Request) -> web.Response:
    session = await require_session(request)
    max_bytes = services(request).config.preferences.max_bytes
    body = await read_body(request, Preferences, max_bytes)
    prefs = body.stored(max_bytes)
    until = await preferences_of(request.app).save(session.email, prefs)
    return json_response(_body(prefs, until))


async def delete_preferences(request: web.Request) -> web.Response:
    session = await require_session(request)
    await preferences_of(request.app).erase(session.email)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/preferences", get_preferences)
    app.router.add_put("/api/preferences", put_preferences)
    app.router.add_delete("/api/preferences", delete_preferences)
