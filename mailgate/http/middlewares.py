"""Request guards and error mapping. Every error body has the shape of docs/api.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from mailgate.errors import ApiError, CsrfFailed
from mailgate.http.json_io import json_response
from mailgate.i18n import USER_LANGUAGE, error_message, negotiate
from mailgate.logs import log_event

__all__ = [
    "error_middleware",
    "http_error",
    "make_body_deadline_middleware",
    "make_guard_middleware",
    "request_language",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_HTTP_CODES = {
    400: ("bad_request", "The request is not valid."),
    404: ("not_found", "There is nothing here."),
    405: ("method_not_allowed", "This method is not allowed here."),
    408: ("request_timeout", "The request took too long to arrive."),
    411: ("length_required", "The request needs a Content-Length."),
    413: ("payload_too_large", "The request is larger than the limit."),
    414: ("uri_too_long", "The URL is too long."),
    415: (
        "unsupported_media_type",
        "The request body has a media type this endpoint does not take.",
    ),
    421: ("misdirected_request", "This server does not answer for that host name."),
    431: ("headers_too_large", "The request headers are too large."),
    504: ("gateway_timeout", "The request took too long to answer."),
}
_SERVER_FAULT = ("internal_error", "Something went wrong on the server.")


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def http_error(status: int, language: str = "en") -> web.Response:
    """The API's error body for a bare HTTP status (also for what aiohttp refuses before
    routing: see http/server.py)."""
    default = ("bad_request", "The request is not valid.") if status < 500 else _SERVER_FAULT
    code, english = _HTTP_CODES.get(status, default)
    return _error(status, code, error_message(code, language, english))


async def request_language(request: web.Request) -> str:
    """The language of a request's error messages: the signed-in user's preference
    (when the request got as far as its session), else Accept-Language, else English."""
    user_language = request.app.get(USER_LANGUAGE)
    if user_language is not None:
        with contextlib.suppress(Exception):  # no preference store is no reason for a 500
            chosen = await user_language(request)
            if chosen:
                return chosen
    return negotiate(request.headers.get("Accept-Language"))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        # CSRF, throttling and upstream failures are logged once where they happen;
        # server-side trouble (store down, disk full) is logged here.
        if exc.status >= 500 and not exc.code.startswith("upstream_"):
            log_event("request_failed", logging.WARNING, code=exc.code, route=_route(request))
        language = await request_language(request)
        return json_response(exc.body(language), exc.status, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = http_error(exc.status, await request_language(request))
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (ConnectionResetError, OSError) as exc:
        if request.transport is None or request.transport.is_closing():
            raise  # the client went away; nothing to answer
        log_event(
            "unhandled_error", logging.ERROR, route=_route(request), error_class=type(exc).__name__
        )
        return http_error(500)
    except Exception as exc:  # the last resort: a 500 is a bug, but never a traceback
        log_event(
            "unhandled_error", logging.ERROR, route=_route(request), error_class=type(exc).__name__
        )
        return http_error(500)


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource if request.match_info.route else None
    return info.canonical if info is not None else "unmatched"


def make_guard_middleware(allowed_hosts: frozenset[str] | None) -> Middleware:
    """Host allow-list (SEC-64), no TRACE (SEC-16), and origin checks on unsafe
    methods, login included (SEC-17). The per-session CSRF token is checked where the
    session is loaded (api/auth.py)."""

    @web.middleware
    async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = (request.headers.get("Host") or "").lower()
        if allowed_hosts is not None and host not in allowed_hosts:
            return http_error(421, negotiate(request.headers.get("Accept-Language")))
        if request.method in ("TRACE", "TRACK", "CONNECT"):
            return http_error(405, negotiate(request.headers.get("Accept-Language")))
        if request.method in UNSAFE_METHODS:
            _check_origin(request, host)
        return await handler(request)

    return guard_middleware


def _check_origin(request: web.Request, host: str) -> None:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        log_event("csrf_refused", reason="fetch_site")
        raise CsrfFailed()
    own = f"https://{host}"
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin.lower() != own:
            log_event("csrf_refused", reason="origin")
            raise CsrfFailed()
        return
    referer = request.headers.get("Referer")
    if referer is not None:
        parts = urlsplit(referer)
        if f"{parts.scheme}://{parts.netloc}".lower() != own:
            log_event("csrf_refused", reason="referer")
            raise CsrfFailed()


def make_body_deadline_middleware(timeout_s: float) -> Middleware:
    """Bound the time a request may take to send its body (server.request_body_timeout_s).

    A body still incomplete at the deadline makes every read of it raise 408, wherever
    the handler reads it (JSON bodies, uploads). The answer is then sent and the
    connection closed at once: otherwise aiohttp would linger reading the slow rest.
    Must wrap error_middleware, which turns the 408 into the API error body.
    """

    @web.middleware
    async def body_deadline_middleware(
        request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        expired = False

        def expire() -> None:
            nonlocal expired
            if not request.content.is_eof():
                expired = True
                request.content.set_exception(web.HTTPRequestTimeout())

        timer = asyncio.get_running_loop().call_later(timeout_s, expire)
        try:
            response = await handler(request)
        finally:
            timer.cancel()
        if expired:
            log_event("request_body_timeout", route=_route(request))
            response.force_close()
            with contextlib.suppress(ConnectionError):  # the client may be gone already
                await response.prepare(request)
                await response.write_eof()
            request.protocol.force_close()
        return response

    return body_deadline_middleware
