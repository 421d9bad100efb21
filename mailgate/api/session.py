"""POST/GET/DELETE /api/session: log in, look, log out (docs/api.md, "Session")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailgate.errors import PasswordsDisabled
from mailgate.http.client_ip import client_address
from mailgate.http.json_io import json_response
from mailgate.services import services
from mailgate.session.manager import Session
from mailgate.session.tokens import COOKIE_NAME

from .auth import cookie_token, optional_session, require_session
from .models.base import read_body
from .models.session import Login

__all__ = ["origin", "setup", "signed_in"]


async def _session_body(
    request: web.Request, session: Session, *, with_idle: bool
) -> dict[str, Any]:
    svc = services(request)
    cfg = svc.config
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
        "limits": {
            "upload_max_bytes": cfg.limits.upload_max_bytes,
            "session_upload_max_bytes": cfg.limits.session_upload_max_bytes,
            "session_upload_max_files": cfg.limits.session_upload_max_files,
        },
    }
    tokens = session.oidc_tokens()
    entry = svc.oidc.entry(tokens["domain"]) if tokens is not None else None
    if entry is not None:
        body["provider"] = {
            "name": svc.oidc.display_name(entry),
            "end_session_url": await svc.oidc.end_session_url(entry.domain, origin(request)),
        }
    if with_idle:
        body["idle_expires_in_s"] = session.idle_expires_in()
    return body


def origin(request: web.Request) -> str:
    """The origin browsers use: the configured public URL, else this request's checked Host
    (the guard refused any other before a handler ran)."""
    public = services(request).config.server.public_url.rstrip("/")
    return public or f"https://{request.host}"


async def login(request: web.Request) -> web.Response:
    svc = services(request)
    body = await read_body(request, Login, 16 * 1024)
    if not svc.oidc.passwords_allowed(body.email):
        raise PasswordsDisabled()
    client = client_address(request, svc.config.server.trusted_proxies)
    session = await svc.sessions.login(body.email, body.password, client, cookie_token(request))
    return await signed_in(request, session)


async def signed_in(request: web.Request, session: Session) -> web.Response:
    """201 with the session body and the one cookie (password and provider sign-in alike)."""
    body = await _session_body(request, session, with_idle=False)
    response = json_response(body, status=201)
    response.set_cookie(
        COOKIE_NAME, session.token.encode(), path="/", secure=True, httponly=True, samesite="Strict"
    )
    return response


async def current(request: web.Request) -> web.Response:
    session = await require_session(request)
    return json_response(await _session_body(request, session, with_idle=True))


async def probe(request: web.Request) -> web.Response:
    """Whether the page is signed in, as a 200 either way (the shell's first request)."""
    session = await optional_session(request)
    body = await _session_body(request, session, with_idle=True) if session else None
    return json_response({"session": body})


async def logout(request: web.Request) -> web.Response:
    session = await require_session(request, activity=False)
    svc = services(request)
    tokens = session.oidc_tokens()
    await svc.sessions.logout(session)
    if tokens is not None:
        # After the wipe: the session is gone even if the provider is slow to answer.
        await svc.oidc.revoke(tokens["domain"], tokens.get("refresh_token", ""))
    response = web.Response(status=204)
    response.set_cookie(
        COOKIE_NAME, "", path="/", secure=True, httponly=True, samesite="Strict", max_age=0
    )
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


async def domains(request: web.Request) -> web.Response:
    """The served mail domains, only where the operator chose to show them."""
    svc = services(request)
    upstreams = svc.upstreams
    shown = upstreams.served_domains() if upstreams.show_on_login else []
    providers = [
        {
            "domain": entry.domain,
            "name": svc.oidc.display_name(entry),
            "passwords": entry.passwords_allowed,
        }
        for entry in svc.oidc.providers()
    ]
    return json_response({"domains": shown, "providers": providers})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/session", login)
    app.router.add_get("/api/session", current)
    app.router.add_delete("/api/session", logout)
    app.router.add_get("/api/session/probe", probe)
    app.router.add_get("/api/domains", domains)
