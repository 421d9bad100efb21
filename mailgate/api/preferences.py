"""GET/PUT/DELETE /api/preferences (docs/api.md, "Preferences").

The service behind it (storage, sealing, the retention purge and the login hook that
restarts its clock) is built by mailgate/composition.py: SQLite in the data directory
(`[data] dir`), or Redis when `[store] backend = "redis"`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from mailgate.http.json_io import json_response
from mailgate.i18n import USER_LANGUAGE, match_language
from mailgate.prefs import PreferenceService
from mailgate.services import SERVICES, services

from .auth import REQUEST_SESSION, require_session
from .models.base import read_body
from .models.preferences import Preferences

__all__ = ["preferences_of", "setup"]

# An error message waits this long at most for the user's language preference.
_LANGUAGE_LOOKUP_S = 1.0


def preferences_of(app: web.Application) -> PreferenceService:
    return app[SERVICES].preferences


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _body(
    request: web.Request, preferences: dict[str, Any], retained_until: float | None
) -> dict[str, Any]:
    return {
        "preferences": preferences,
        "retained_until": _iso(retained_until),
        "retention_days": services(request).config.preferences.retention_days,
    }


async def get_preferences(request: web.Request) -> web.Response:
    session = await require_session(request)
    prefs, until = await preferences_of(request.app).load(session.email)
    return json_response(_body(request, prefs, until))


async def put_preferences(request: web.Request) -> web.Response:
    session = await require_session(request)
    max_bytes = services(request).config.preferences.max_bytes
    body = await read_body(request, Preferences, max_bytes)
    prefs = body.stored(max_bytes)
    until = await preferences_of(request.app).save(session.email, prefs)
    return json_response(_body(request, prefs, until))


async def delete_preferences(request: web.Request) -> web.Response:
    session = await require_session(request)
    await preferences_of(request.app).erase(session.email)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    async def user_language(request: web.Request) -> str | None:
        """The signed-in user's saved language, for error messages in it."""
        session = request.get(REQUEST_SESSION)
        if session is None:
            return None
        service = preferences_of(request.app)
        prefs, _ = await asyncio.wait_for(service.load(session.email), _LANGUAGE_LOOKUP_S)
        return match_language(prefs.get("language"))

    app[USER_LANGUAGE] = user_language
    app.router.add_get("/api/preferences", get_preferences)
    app.router.add_put("/api/preferences", put_preferences)
    app.router.add_delete("/api/preferences", delete_preferences)
