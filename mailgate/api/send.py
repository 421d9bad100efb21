"""POST /api/send and POST /api/drafts: the HTTP side of mailgate/mail/outbox.py."""

from __future__ import annotations

import contextlib

from aiohttp import web

from mailgate.http.json_io import json_response
from mailgate.mail.outbox import save_draft, send_message
from mailgate.services import Services, services

from .auth import require_session
from .models.base import read_body
from .models.compose import Compose, Draft
from .preferences import preferences_of
from .uploads import vault_of

__all__ = ["setup"]


def _forget(svc: Services, lookup: str, message_id: str | None) -> None:
    """A message whose flags we changed, or a draft we removed, must not be served from
    the cache of opened messages (mailgate/api/messages.py)."""
    if message_id is not None:
        with contextlib.suppress(Exception):
            svc.reading.forget(lookup, message_id)


async def _from_name(request: web.Request, email: str) -> str:
    """The display name the user chose in their preferences, for the From header."""
    prefs, _ = await preferences_of(request.app).load(email)
    name = prefs.get("display_name", "")
    if not isinstance(name, str):
        return ""
    return "".join(c for c in name if c.isprintable()).strip()


async def send(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    body = await read_body(request, Compose, svc.config.limits.json_max_bytes)
    compose = body.to_request(svc.config.limits.recipients_max)
    result = await send_message(
        compose,
        session=session,
        vault=vault_of(svc),
        pool=svc.pool,
        config=svc.config,
        upstreams=svc.upstreams,
        ssl_context=svc.upstream_ssl,
        from_name=await _from_name(request, session.email),
    )
    if compose.in_reply_to is not None:
        _forget(svc, session.lookup, compose.in_reply_to.id)
    if compose.replaces is not None:
        _forget(svc, session.lookup, compose.replaces.id)
    return json_response(result.as_json())


async def drafts(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    body = await read_body(request, Draft, svc.config.limits.json_max_bytes)
    compose = body.to_request(svc.config.limits.recipients_max)
    result = await save_draft(
        compose,
        session=session,
        vault=vault_of(svc),
        pool=svc.pool,
        from_name=await _from_name(request, session.email),
    )
    if compose.replaces is not None:
        _forget(svc, session.lookup, compose.replaces.id)
    return json_response(result.as_json(), status=201)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/send", send)
    app.router.add_post("/api/drafts", drafts)
