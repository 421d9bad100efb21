"""Loading the session a request belongs to: cookie only, CSRF on unsafe methods."""

from __future__ import annotations

from aiohttp import web

from mailgate.errors import AuthRequired, CsrfFailed
from mailgate.http.middlewares import UNSAFE_METHODS
from mailgate.logs import log_event
from mailgate.services import services
from mailgate.session.manager import Session
from mailgate.session.tokens import SessionToken, token_from_cookie_header

__all__ = ["REQUEST_SESSION", "cookie_token", "optional_session", "require_session"]

# The session a request resumed (for what runs after the handler: error messages in the
# user's language).
REQUEST_SESSION = web.RequestKey("mailgate_session", Session)


def cookie_token(request: web.Request) -> SessionToken | None:
    """The token from the Cookie header, and from nowhere else (SEC-05)."""
    return token_from_cookie_header(request.headers.get("Cookie"))


async def require_session(request: web.Request, *, activity: bool = True) -> Session:
    session = await optional_session(request, activity=activity)
    if session is None:
        raise AuthRequired()
    return session


async def optional_session(request: web.Request, *, activity: bool = True) -> Session | None:
    """The request's live session, or None without one (a 403 still for a bad CSRF token)."""
    token = cookie_token(request)
    if token is None:
        return None
    svc = services(request)
    session = await svc.sessions.resume(token)
    if session is None:
        return None
    if request.method in UNSAFE_METHODS and not session.keys.csrf_matches(
        request.headers.get("X-CSRF-Token")
    ):
        log_event("csrf_refused", reason="token")
        raise CsrfFailed()
    if activity:
        session = await svc.sessions.fresh(session)
        await svc.sessions.touch(session)
    request[REQUEST_SESSION] = session
    return session
