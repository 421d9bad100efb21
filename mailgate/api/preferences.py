"""GET/PUT/DELETE /api/preferences (API.md "Preferences"), the scheduled purge, and the
login hook that restarts the retention clock.

Storage: SQLite in the data directory (`[data] dir`, MAILGATE_DATA_DIR), or Redis when
`[store] backend = "redis"`. With an empty data directory a private temporary one is
made per process and removed at shutdown: fine for the demo, but preferences and the
server secret then die with the process (and separate instances cannot read each
other's preferences); set a data directory for anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from mailgate.config import Config
from mailgate.http.json_io import json_response, read_json
from mailgate.i18n import USER_LANGUAGE, match_language
from mailgate.logs import log_event
from mailgate.prefs import PreferenceService, validate_preferences
from mailgate.prefs.secret import SECRET_FILE_NAME, AccountKeys, load_secret
from mailgate.prefs.store import (
    DB_FILE_NAME,
    PreferenceStore,
    RedisPreferenceStore,
    SqlitePreferenceStore,
)
from mailgate.services import SERVER_SECRET, SERVICES, services
from mailgate.session.manager import Session

from .auth import REQUEST_SESSION, require_session

__all__ = ["PREFERENCES", "preferences_of", "setup"]

PREFERENCES = "preferences"
SECRET_FILE_ENV = "MAILGATE_DATA_SECRET_FILE"
_DAY_S = 86400.0
# An error message waits this long at most for the user's language preference.
_LANGUAGE_LOOKUP_S = 1.0


def preferences_of(app: web.Application) -> PreferenceService:
    return app[SERVICES].extra[PREFERENCES]


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
    data = await read_json(request, max_bytes)
    prefs = validate_preferences(data, max_bytes)
    until = await preferences_of(request.app).save(session.email, prefs)
    return json_response(_body(prefs, until))


async def delete_preferences(request: web.Request) -> web.Response:
    session = await require_session(request)
    await preferences_of(request.app).erase(session.email)
    return web.Response(status=204)


def _data_dir(config: Config) -> tuple[Path, bool]:
    """The data directory, and whether it is a temporary one this process owns."""
    if config.data.dir:
        path = Path(config.data.dir)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path, False
    return Path(tempfile.mkdtemp(prefix="mailgate-data-")), True


def _secret_path(config: Config, data_dir: Path) -> Path:
    # A `[data] secret_file` setting would be the tidy home; until then the environment.
    configured = getattr(config.data, "secret_file", "") or os.environ.get(SECRET_FILE_ENV, "")
    return Path(configured) if configured else data_dir / SECRET_FILE_NAME


def _purge_interval(retention_s: float) -> float:
    return min(3600.0, max(0.2, retention_s / 10))


def setup(app: web.Application) -> None:
    svc = app[SERVICES]
    config = svc.config
    data_dir, temporary = _data_dir(config)
    secret = load_secret(_secret_path(config, data_dir))
    svc.extra[SERVER_SECRET] = secret
    keys = AccountKeys(secret)
    store: PreferenceStore
    if config.store.backend == "redis":
        store = RedisPreferenceStore(config.store.redis_url)
    else:
        store = SqlitePreferenceStore(data_dir / DB_FILE_NAME)
    retention_s = max(0.0, config.preferences.retention_days * _DAY_S)
    service = PreferenceService(store, keys, retention_s)
    svc.extra[PREFERENCES] = service

    async def on_login(session: Session) -> None:
        await service.logged_in(session.email)

    svc.sessions.login_hooks.append(on_login)

    async def user_language(request: web.Request) -> str | None:
        session = request.get(REQUEST_SESSION)
        if session is None:
            return None
        prefs, _ = await asyncio.wait_for(service.load(session.email), _LANGUAGE_LOOKUP_S)
        return match_language(prefs.get("language"))

    app[USER_LANGUAGE] = user_language

    async def purge_forever() -> None:
        while True:
            try:
                erased = await service.purge()
                if erased:
                    log_event("preferences_purged", logging.INFO, count=erased)
            except Exception as exc:  # keep purging after a passing fault
                log_event(
                    "preferences_purge_failed", logging.WARNING, error_class=type(exc).__name__
                )
            await asyncio.sleep(_purge_interval(retention_s))

    tasks: list[asyncio.Task[None]] = []

    async def startup(app: web.Application) -> None:
        tasks.append(asyncio.create_task(purge_forever(), name="mailgate-prefs-purge"))

    async def cleanup(app: web.Application) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    app.router.add_get("/api/preferences", get_preferences, allow_head=False)
    app.router.add_put("/api/preferences", put_preferences)
    app.router.add_delete("/api/preferences", delete_preferences)
