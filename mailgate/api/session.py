"""POST/GET/DELETE /api/session: log in, look, log out (docs/api.md, "Session")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailgate.http.client_ip import client_address
from mailgate.http.json_io import json_response
from mailgate.services import services
from mailgate.session.manager import Session
from mailgate.session.tokens import COOKIE_NAME

from .auth import cookie_token, require_session
from .models.base import read_body
from .models.session import Login

__all__ = ["setup"]


def _session_body(request: web.Request, session: Session, *, with_idle: bool) -> dict[str, Any]:
    cfg = services(request).config
    body: dict[str, Any] = {
        "account": {"email": session.email},
        "csrf_token": session.keys.csrf_token,
        "idle_timeout_s": cfg.session.idle_timeout_s,
        "absolute_timeout_s": cfg.session.absolute_timeout_s,
        "features": {
            "proxy": cfg.proxy.enabled,
            # This account has an address book (Contacts screen, "Add sender to contacts").
            "contacts": services(request).contacts.url_for(session.email) is not None,
        },
    }
    if with_idle:
        body["idle_expires_in_s"] = session.idle_expires_in()
    return body


async def login(request: web.Request) -> web.Response:
    svc = services(request)
    body = await read_body(request, Login, 16 * 1024)
    client = client_address(request, svc.config.server.trusted_proxies)
    session = await svc.sessions.login(body.email, body.password, client, cookie_token(request))
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


async def domains(request: web.Request) -> web.Response:
    """The served mail domains, only where the operator chose to show them."""
    upstreams = services(request).upstreams
    shown = upstreams.served_domains() if upstreams.show_on_login else []
    return json_response({"domains": shown})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/session", login)
    app.router.add_get("/api/session", current)
    app.router.add_delete("/api/session", logout)
    app.router.add_get("/api/domains", domains)
