"""POST /api/send and POST /api/drafts: the HTTP side of mailgate/mail/outbox.py."""

from __future__ import annotations

import contextlib

from aiohttp import web

from mailgate.errors import BadRequest
from mailgate.http.json_io import json_response
from mailgate.mail.ids import decode_message_id
from mailgate.mail.outbox import Sender, save_draft, send_message
from mailgate.mail.receipts import answer_receipt
from mailgate.services import Services, services

from .auth import require_session
from .models.base import read_body
from .models.compose import Compose, Draft, ReceiptAnswer
from .preferences import preferences_of
from .uploads import vault_of

__all__ = ["setup"]


def _forget(svc: Services, lookup: str, message_id: str | None) -> None:
    """A message whose flags we changed, or a draft we removed, must not be served from
    the cache of opened messages (mailgate/api/messages.py)."""
    if message_id is not None:
        with contextlib.suppress(Exception):
            svc.reading.forget(lookup, message_id)


def _printable(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return "".join(c for c in value if c.isprintable()).strip()


async def _sender(request: web.Request, email: str, identity: str | None) -> Sender:
    """Who the message is from: the identity chosen (400 when the preferences hold none
    with that id), else the login's address with the display name of the preferences."""
    prefs, _ = await preferences_of(request.app).load(email)
    if identity is None:
        return Sender(name=_printable(prefs.get("display_name", "")))
    saved = prefs.get("identities")
    for item in saved if isinstance(saved, list) else []:
        if isinstance(item, dict) and item.get("id") == identity:
            address = item.get("email")
            if not isinstance(address, str) or not address:
                break
            reply_to = item.get("reply_to")
            return Sender(
                name=_printable(item.get("name", "")),
                email=address,
                reply_to=reply_to if isinstance(reply_to, str) and reply_to else None,
                bcc_self=item.get("bcc_self") is True,
            )
    raise BadRequest(Compose.invalid_message("identity"))


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
        sender=await _sender(request, session.email, body.identity),
    )
    if compose.in_reply_to is not None:
        _forget(svc, session.lookup, compose.in_reply_to.id)
    if compose.forward_of is not None:
        _forget(svc, session.lookup, compose.forward_of.id)
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
        sender=await _sender(request, session.email, body.identity),
    )
    if compose.replaces is not None:
        _forget(svc, session.lookup, compose.replaces.id)
    return json_response(result.as_json(), status=201)


async def receipt(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    ref = decode_message_id(request.match_info["message_id"])
    body = await read_body(request, ReceiptAnswer, svc.config.limits.json_max_bytes)
    sender = await _sender(request, session.email, body.identity)
    try:
        await answer_receipt(
            ref,
            body.action,
            session=session,
            pool=svc.pool,
            config=svc.config,
            upstreams=svc.upstreams,
            ssl_context=svc.upstream_ssl,
            sender=sender,
        )
    finally:
        _forget(svc, session.lookup, ref.id)
    return json_response({"receipt": "sent" if body.action == "send" else "ignored"})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/messages/{message_id}/receipt", receipt)
    app.router.add_post("/api/send", send)
    app.router.add_post("/api/drafts", drafts)
