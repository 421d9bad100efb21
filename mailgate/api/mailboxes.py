"""GET /api/mailboxes and GET /api/mailboxes/{id}/messages (docs/api.md, "Mailboxes")."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailgate.errors import BadRequest, NotFound
from mailgate.http.json_io import json_response
from mailgate.mail.ids import decode_mailbox_id, mailbox_id
from mailgate.mail.imap.client import MailClient, Sort
from mailgate.mail.imap.errors import ImapNoError
from mailgate.mail.reader import summary_json
from mailgate.services import services

from .auth import require_session

__all__ = ["int_param", "mailbox_json", "setup"]

_SORTS: dict[str, Sort] = {"date_desc": "date_desc", "date_asc": "date_asc"}
_MAX_QUERY = 256


def mailbox_json(box: Any) -> dict[str, Any]:
    return {
        "id": mailbox_id(box.path),
        "name": box.name,
        "path": box.path,
        "role": box.role,
        "total": box.total,
        "unread": box.unread,
    }


async def list_mailboxes(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)

    async def op(client: MailClient) -> list[Any]:
        return await client.mailboxes()

    boxes = await svc.pool.run(session.lookup, session.credentials, op)
    return json_response({"mailboxes": [mailbox_json(b) for b in boxes]})


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise BadRequest(f"The parameter '{name}' must be a whole number.")
    value = int(raw)
    if not low <= value <= high:
        raise BadRequest(f"The parameter '{name}' must be between {low} and {high}.")
    return value


async def list_messages(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    path = decode_mailbox_id(request.match_info["mailbox_id"])
    limit = int_param(request, "limit", 50, 1, 200)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    sort = _SORTS.get(request.query.get("sort") or "date_desc")
    if sort is None:
        raise BadRequest("The parameter 'sort' must be date_desc or date_asc.")
    query = request.query.get("q") or None
    if query is not None and (len(query) > _MAX_QUERY or any(c in query for c in "\x00\r\n")):
        raise BadRequest("The search text is too long or has control characters.")
    if query is not None and not query.strip():
        query = None

    async def op(client: MailClient) -> Any:
        try:
            return await client.list_page(path, offset=offset, limit=limit, sort=sort, query=query)
        except ImapNoError:
            raise NotFound("There is no such mailbox.") from None

    page = await svc.pool.run(session.lookup, session.credentials, op)
    return json_response(
        {
            "total": page.total,
            "offset": offset,
            "messages": [summary_json(path, page.uidvalidity, s) for s in page.summaries],
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/mailboxes", list_mailboxes)
    app.router.add_get("/api/mailboxes/{mailbox_id}/messages", list_messages)
