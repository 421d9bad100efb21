"""GET /api/search: search with filters in one mailbox or across the account. The terms
travel to the mail server only; the request log names the route, never the query."""

from __future__ import annotations

import unicodedata
from datetime import date

from aiohttp import web

from mailgate.errors import BadRequest, NotFound
from mailgate.http.json_io import json_response
from mailgate.mail.ids import decode_mailbox_id
from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.errors import ImapNoError
from mailgate.mail.search import SearchFilter, search
from mailgate.services import services

from .auth import require_session
from .mailboxes import int_param

__all__ = ["MAX_OFFSET", "MAX_PAGE", "setup"]

MAX_PAGE = 100
# Each page across the account sorts offset+limit candidates per mailbox.
MAX_OFFSET = 400
MAX_TERM = 256
_FIRST_YEAR, _LAST_YEAR = 1900, 9998
_TEXT_PARAMS = {
    "q": "text",
    "from": "sender",
    "to": "recipient",
    "subject": "subject",
    "body": "body",
}
_FLAG_PARAMS = {"unread": "unread", "flagged": "flagged", "attachment": "attachment"}


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is None:
        return None
    if len(value) > MAX_TERM or any(unicodedata.category(c) == "Cc" for c in value):
        raise BadRequest(f"The parameter '{name}' is too long or has control characters.")
    return value.strip() or None


def _day(request: web.Request, name: str) -> date | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        day = date.fromisoformat(value)
        if not _FIRST_YEAR <= day.year <= _LAST_YEAR:
            raise ValueError(value)  # mail servers' dates end somewhere; so do ours
        return day
    except ValueError:
        raise BadRequest(
            f"The parameter '{name}' must be a date like 2026-12-31, between the years "
            f"{_FIRST_YEAR} and {_LAST_YEAR}."
        ) from None


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    if value in (None, "", "false"):
        return False
    if value != "true":
        raise BadRequest(f"The parameter '{name}' must be true or false.")
    return True


def search_filter(request: web.Request) -> SearchFilter:
    """The filter a request's query parameters describe; BadRequest naming the parameter."""
    texts = {field: _text(request, name) for name, field in _TEXT_PARAMS.items()}
    flags = {field: _flag(request, name) for name, field in _FLAG_PARAMS.items()}
    since, until = _day(request, "since"), _day(request, "until")
    if since and until and since > until:
        raise BadRequest("The parameter 'since' must not be after 'until'.")
    wanted = SearchFilter(**texts, **flags, since=since, until=until)  # type: ignore[arg-type]
    if wanted.is_empty():
        raise BadRequest("Give at least one search term or filter.")
    return wanted


async def search_messages(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    wanted = search_filter(request)
    raw_mailbox = request.query.get("mailbox")
    mailbox = decode_mailbox_id(raw_mailbox) if raw_mailbox else None
    if mailbox == "":
        raise NotFound("There is no such mailbox.")
    limit = int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, MAX_OFFSET)

    async def op(client: MailClient) -> tuple[int, list[dict[str, object]]]:
        try:
            return await search(client, wanted, mailbox, offset=offset, limit=limit)
        except ImapNoError:
            raise NotFound("There is no such mailbox.") from None

    total, hits = await svc.pool.run(session.lookup, session.credentials, op)
    return json_response({"total": total, "offset": offset, "messages": hits})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/search", search_messages)
