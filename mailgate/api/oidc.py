"""Sign-in through a domain's OpenID provider (docs/api.md; the design and its login-CSRF
argument: docs/decisions/0021-openid-sign-in.md).

POST /api/oidc/start: a flow for a domain; the page keeps the binding and goes to the
provider. GET /oidc/callback: the provider sends the browser back here; the UI shell is
served and its script POSTs code, state and the binding to POST /api/oidc/finish, which
sets the one cookie. Nothing before that sets a cookie.
"""

from __future__ import annotations

from aiohttp import web

from mailgate.errors import ApiError
from mailgate.http.client_ip import client_address
from mailgate.http.json_io import json_response
from mailgate.services import services

from .auth import cookie_token
from .models.base import read_body
from .models.oidc import OidcFinish, OidcStart
from .session import origin, signed_in

__all__ = ["setup"]


async def start(request: web.Request) -> web.Response:
    body = await read_body(request, OidcStart, 4 * 1024)
    url, binding = await services(request).oidc.start(
        body.domain, f"{origin(request)}/oidc/callback"
    )
    return json_response({"authorization_url": url, "binding": binding})


async def finish(request: web.Request) -> web.Response:
    svc = services(request)
    body = await read_body(request, OidcFinish, 16 * 1024)
    signed = await svc.oidc.finish(body.code, body.state, body.binding, body.iss)
    client = client_address(request, svc.config.server.trusted_proxies)
    oidc = {
        "domain": signed.domain,
        "access_token": signed.access_token,
        "refresh_token": signed.refresh_token,
        "expires_at": signed.expires_at,
    }
    try:
        session = await svc.sessions.login_with_token(
            signed.email, oidc, client, cookie_token(request)
        )
    except ApiError:
        # No session will hold these tokens: the provider may forget them now.
        await svc.oidc.revoke(signed.domain, signed.refresh_token)
        raise
    return await signed_in(request, session)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/oidc/start", start)
    app.router.add_post("/api/oidc/finish", finish)
