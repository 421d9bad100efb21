"""Conversations (docs/api.md, "Conversations"): thin handlers over
`mailgate.mail.conversations.ConversationService`."""

from __future__ import annotations

from aiohttp import web

from mailgate.http.json_io import json_response
from mailgate.mail.ids import decode_conversation_id, decode_mailbox_id
from mailgate.services import services

from .auth import require_session
from .mailboxes import int_param
from .models.base import read_body
from .models.conversations import ConversationAction

__all__ = ["setup"]


async def list_conversations(request: web.Request) -> web.Response:
    session = await require_session(request)
    path = decode_mailbox_id(request.match_info["mailbox_id"])
    limit = int_param(request, "limit", 50, 1, 200)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    page = await services(request).conversations.page(
        session.lookup, session.credentials, path, offset=offset, limit=limit
    )
    return json_response(page)


async def get_conversation(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = decode_conversation_id(request.match_info["conversation_id"])
    view = await services(request).conversations.get(session.lookup, session.credentials, ref)
    return json_response(view)


async def conversation_action(request: web.Request) -> web.Response:
    session = await require_session(request)
    ref = decode_conversation_id(request.match_info["conversation_id"])
    svc = services(request)
    body = await read_body(request, ConversationAction, svc.config.limits.json_max_bytes)
    target = decode_mailbox_id(body.mailbox) if isinstance(body.mailbox, str) else None
    count = await svc.conversations.act(
        session.lookup, session.credentials, ref, body.action, target
    )
    return json_response({"count": count})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/mailboxes/{mailbox_id}/conversations", list_conversations)
    app.router.add_get("/api/conversations/{conversation_id}", get_conversation)
    app.router.add_post("/api/conversations/{conversation_id}/actions", conversation_action)
