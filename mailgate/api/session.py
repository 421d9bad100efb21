"""POST/GET/DELETE /api/session: log in, look, log out (API.md "Session")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailgate.errors import BadRequest
from mailgate.http.client_ip import client_address
from mailgate.http.json_io import json_response, read_json, reject_unknown
from mailgate.services import services
from mailgate.session.manager import Session
from mailgate.session.tokens import COOKIE_NAME

from .auth import cookie_token, require_session

__all__ = ["setup"]

_MAX_EMAIL = 320
_MAX_PASSWORD = 1024
_FORBIDDEN = ("\x00", "\r", "\n")


def _session_body(request: web.Request, session: Session, *, with_idle: bool) -> dict[str, Any]:
    cfg = services(request).config
    body: dict[str, Any] = {
        "account": {"email": session.email},
        "csrf_token": session.keys.csrf_token,
        "idle_timeout_s": cfg.session.idle_timeout_s,
        "absolute_timeout_s": cfg.session.absolute_timeout_s,
        "features": {"proxy": cfg.proxy.enabled},
    }
    if with_idle:
        body["idle_expires_in_s"] = session.idle_expires_in()
    return body


def _field(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"The field '{name}' is required and must be a string.")
    if len(value) > limit or any(c in value for c in _FORBIDDEN):
        raise BadRequest(f"The field '{name}' is not valid.")
    return value


async def login(request: web.Request) -> web.Response:
    svc = services(request)
    data = await read_json(request, 16 * 1024)
    reject_unknown(data, {"email", "password"})
    email = _field(data, "email", _MAX_EMAIL)
    password = _field(data, "password", _MAX_PASSWORD)
    if email != email.strip() or "@" not in email:
        raise BadRequest("The field 'email' is not an e-mail address.")
    client = client_address(request, svc.config.server.trusted_proxies)
    session = await svc.sessions.login(email, password, client, cookie_token(request))
    response = json_response(_session_body(request, session, with_idle=False), status=201)
    response.set_cookie(
        COOKIE_NAME, session.token.encode(), path="/", secure=True, httponly=True, samesite="Strict"
    )
    return response


async def current(request: web.Request) -> web.Response:
    session = await require_session(request)
    return json_response(_session_body(request, session, with_idle=True))


async def logout(request: web.Request) -> web.Response:
    session = await require_session(request, activity=False)
    await services(request).sessions.logout(session)
    response = web.Response(status=204)
    response.set_cookie(
        COOKIE_NAME, "", path="/", secure=True, httponly=True, samesite="Strict", max_age=0
    )
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


def setup(app: web.Application) -> None:
    app.router.add_post("/api/session", login)
    app.router.add_get("/api/session", current)
    app.router.add_delete("/api/session", logout)
