"""GET /api/sieve, GET/PUT /api/sieve/vacation, GET/PUT /api/sieve/filters: vacation
replies and filters kept on the user's own server over ManageSieve (mailgate/mail/sieve/).

Off unless the operator sets `[sieve] host` (MAILGATE_SIEVE_HOST): then GET /api/sieve
says `available: false` and the other routes answer 404 `sieve_unavailable`. A server
that cannot be reached answers 502 `sieve_unavailable`; a script the server refuses
answers 502 `sieve_refused` with the server's own explanation (shown to the user, not
logged); another client's active script is only replaced on request (409
`sieve_foreign_active` otherwise).
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from aiohttp import web

from mailgate.api.models.base import read_body
from mailgate.api.models.sieve import FiltersPut, VacationPut
from mailgate.errors import (
    ApiError,
    BadRequest,
    SieveForeignActive,
    SieveNameTaken,
    SieveNotConfigured,
    SieveUnreachable,
    UpstreamTlsFailed,
)
from mailgate.http.json_io import json_response
from mailgate.logs import log_event
from mailgate.mail.sieve import (
    BearerMechanism,
    ForeignScript,
    NameTaken,
    PlainMechanism,
    RulesError,
    SaslMechanism,
    ScriptError,
    SieveAuthError,
    SieveError,
    SieveRefused,
    SieveService,
    SieveState,
    SieveTlsError,
    parse_filters,
    parse_vacation,
)
from mailgate.mail.upstreams import Endpoint
from mailgate.services import SERVICES, services
from mailgate.session.manager import Session

from .auth import require_session

__all__ = [
    "SieveRejected",
    "setup",
]

# The extensions the settings screen asks about (dates = date + relational).
_EXTENSIONS = ("vacation", "fileinto", "copy", "imap4flags")


# Not in mailgate/errors.py and its catalogs on purpose: the message relays the server's
# own words about the script (issue: the user must see why it was refused), untranslated.
class SieveRejected(ApiError):
    status, code = 502, "sieve_refused"
    default_message = "The mail server refused the rules."


def service_of(app: web.Application) -> SieveService:
    return app[SERVICES].sieve


def _mechanism(session: Session) -> SaslMechanism:
    """How this session signs in to ManageSieve: PLAIN with the session's password, or
    OAUTHBEARER with the access token of a session signed in through a provider."""
    credentials = session.credentials()
    if credentials.access_token:
        return BearerMechanism(credentials.username, credentials.access_token)
    return PlainMechanism(credentials.username, credentials.password)


def _map(exc: Exception) -> ApiError:
    """One place for ManageSieve failures; logs carry our reason token, never server text."""
    if isinstance(exc, RulesError):
        return BadRequest(str(exc))
    if isinstance(exc, ScriptError):
        return BadRequest(str(exc))
    if isinstance(exc, ForeignScript):
        return SieveForeignActive(
            f"Another program's filter script (\u201c{exc.name}\u201d) is active. Turning on "
            "mailgate's rules makes them the active script instead; the other script stays "
            "stored on the server."
        )
    if isinstance(exc, NameTaken):
        return SieveNameTaken()
    reason = getattr(exc, "reason", type(exc).__name__)
    log_event(
        "upstream_error", logging.WARNING, protocol="sieve", kind=type(exc).__name__, reason=reason
    )
    if isinstance(exc, SieveRefused):
        return SieveRejected(exc.server_message or None)
    if isinstance(exc, SieveTlsError):
        return UpstreamTlsFailed(
            "The server that keeps filters and vacation replies could not be reached over a "
            "verified TLS connection."
        )
    if isinstance(exc, SieveAuthError):
        return SieveUnreachable(
            "The server that keeps filters and vacation replies did not accept this account."
        )
    return SieveUnreachable()


async def _guard(coro: Any) -> Any:
    try:
        return await coro
    except (SieveError, RulesError, ScriptError, ForeignScript, NameTaken) as exc:
        raise _map(exc) from None


def _require(request: web.Request, session: Session) -> tuple[SieveService, Endpoint]:
    """The service and this account's own ManageSieve server (its domain's)."""
    service = service_of(request.app)
    endpoint = service.endpoint_for(session.email)
    if endpoint is None:
        raise SieveNotConfigured()
    return service, endpoint


def _status_body(state: SieveState | None, allow_forward: bool) -> dict[str, Any]:
    if state is None:
        return {
            "available": False,
            "active": "none",
            "foreign": None,
            "scripts": [],
            "extensions": {**{e: False for e in _EXTENSIONS}, "dates": False},
            "max_redirects": None,
            "allow_forward": False,
        }
    ext = state.extensions
    foreign = None
    if state.foreign_name is not None:
        foreign = {
            "name": state.foreign_name,
            "text": state.foreign_text or "",
            "truncated": state.foreign_truncated,
        }
    return {
        "available": True,
        "active": state.active,
        "foreign": foreign,
        "scripts": [
            {"name": name, "active": active, "mailgate": ours}
            for name, active, ours in state.scripts
        ],
        "extensions": {
            **{e: e in ext for e in _EXTENSIONS},
            "dates": "date" in ext and "relational" in ext,
        },
        "max_redirects": state.max_redirects,
        "allow_forward": allow_forward,
    }


async def get_status(request: web.Request) -> web.Response:
    session = await require_session(request)
    service = service_of(request.app)
    endpoint = service.endpoint_for(session.email)
    if endpoint is None:
        return json_response(_status_body(None, False))
    state = await _guard(service.state(endpoint, _mechanism(session)))
    return json_response(_status_body(state, service.config.allow_forward))


async def get_vacation(request: web.Request) -> web.Response:
    session = await require_session(request)
    service, endpoint = _require(request, session)
    state = await _guard(service.state(endpoint, _mechanism(session)))
    return json_response({"vacation": state.rules.vacation.as_json(), "active": state.active})


async def put_vacation(request: web.Request) -> web.Response:
    session = await require_session(request)
    service, endpoint = _require(request, session)
    body = await read_body(request, VacationPut, services(request).config.limits.json_max_bytes)
    activate = body.activate
    try:
        vacation = parse_vacation(msgspec.to_builtins(body.vacation))
    except RulesError as exc:
        raise BadRequest(str(exc)) from None
    saved = await _guard(
        service.save_vacation(
            session.lookup, endpoint, _mechanism(session), vacation, activate=activate
        )
    )
    return json_response({"vacation": saved.rules.vacation.as_json(), "active": "mailgate"})


async def get_filters(request: web.Request) -> web.Response:
    session = await require_session(request)
    service, endpoint = _require(request, session)
    state = await _guard(service.state(endpoint, _mechanism(session)))
    return json_response(
        {"filters": [f.as_json() for f in state.rules.filters], "active": state.active}
    )


async def put_filters(request: web.Request) -> web.Response:
    session = await require_session(request)
    service, endpoint = _require(request, session)
    body = await read_body(request, FiltersPut, services(request).config.limits.json_max_bytes)
    activate = body.activate
    try:
        filters = parse_filters(
            msgspec.to_builtins(body.filters), allow_forward=service.config.allow_forward
        )
    except RulesError as exc:
        raise BadRequest(str(exc)) from None
    saved = await _guard(
        service.save_filters(
            session.lookup, endpoint, _mechanism(session), filters, activate=activate
        )
    )
    return json_response(
        {"filters": [f.as_json() for f in saved.rules.filters], "active": "mailgate"}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/sieve", get_status)
    app.router.add_get("/api/sieve/vacation", get_vacation)
    app.router.add_put("/api/sieve/vacation", put_vacation)
    app.router.add_get("/api/sieve/filters", get_filters)
    app.router.add_put("/api/sieve/filters", put_filters)
