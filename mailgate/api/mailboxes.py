"""The mailboxes: listing, a mailbox's messages, and folder management (create, rename or
move, delete, subscribe) (docs/api.md, "Mailboxes")."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web

from mailgate.errors import (
    ApiError,
    BadRequest,
    InvalidFolderName,
    MailboxExists,
    MailboxProtected,
    MailboxRefused,
    NotFound,
)
from mailgate.http.json_io import json_body_response, json_response
from mailgate.mail import folders
from mailgate.mail.folders import FolderError
from mailgate.mail.ids import decode_mailbox_id, mailbox_id
from mailgate.mail.imap.client import SORTS, MailClient, Quota, Sort
from mailgate.mail.imap.errors import ImapNoError
from mailgate.mail.listing import page_json
from mailgate.services import services

from .auth import require_session
from .models.base import read_body
from .models.mailboxes import MailboxCreate, MailboxUpdate, Subscription

__all__ = ["int_param", "mailbox_json", "setup"]


def folder_error(exc: FolderError) -> ApiError:
    """A refused folder operation as its 4xx; the server's own words are never included."""
    if exc.reason == "exists":
        return MailboxExists()
    if exc.reason == "protected":
        return MailboxProtected()
    if exc.reason == "not_found":
        return NotFound("There is no such mailbox.")
    if exc.reason == "invalid_name":
        return InvalidFolderName()
    return MailboxRefused()


_SORTS: dict[str, Sort] = {sort: sort for sort in SORTS}
_MAX_QUERY = 256


def mailbox_json(box: Any) -> dict[str, Any]:
    return {
        "id": mailbox_id(box.path),
        "name": box.name,
        "path": box.path,
        "role": box.role,
        "total": box.total,
        "unread": box.unread,
        "subscribed": box.subscribed,
    }


async def list_mailboxes(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)

    async def op(client: MailClient) -> list[Any]:
        # The list a session starts with: INBOX, listed next, is selected in passing.
        return await client.mailboxes(subscriptions=True, prime_inbox=True)

    boxes = await svc.pool.run(session.lookup, session.credentials, op)
    return json_response({"mailboxes": [mailbox_json(b) for b in boxes]})


async def _listed(client: MailClient, path: str) -> Any:
    for box in await client.mailboxes(subscriptions=True):
        if box.path == path:
            return box
    raise NotFound("There is no such mailbox.")


async def create_mailbox(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    body = await read_body(request, MailboxCreate, svc.config.limits.json_max_bytes)
    parent = decode_mailbox_id(body.parent) if body.parent is not None else None

    async def op(client: MailClient) -> Any:
        try:
            path = await folders.create_folder(client, body.name, parent, role=body.role)
        except FolderError as exc:
            raise folder_error(exc) from None
        return await _listed(client, path)

    box = await svc.pool.run(session.lookup, session.credentials, op)
    return json_response(mailbox_json(box), status=201)


async def update_mailbox(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    path = decode_mailbox_id(request.match_info["mailbox_id"])
    body = await read_body(request, MailboxUpdate, svc.config.limits.json_max_bytes)
    parent: str | Literal[False] | None = False
    if isinstance(body.parent, str):
        parent = decode_mailbox_id(body.parent)
    elif body.parent is None:
        parent = None

    async def op(client: MailClient) -> Any:
        try:
            new_path = await folders.rename_folder(client, path, body.name, parent)
        except FolderError as exc:
            raise folder_error(exc) from None
        return await _listed(client, new_path)

    box = await svc.pool.run(session.lookup, session.credentials, op)
    return json_response(mailbox_json(box))


async def delete_mailbox(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    path = decode_mailbox_id(request.match_info["mailbox_id"])

    async def op(client: MailClient) -> None:
        try:
            await folders.delete_folder(client, path)
        except FolderError as exc:
            raise folder_error(exc) from None

    await svc.pool.run(session.lookup, session.credentials, op)
    return web.Response(status=204)


async def put_subscription(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    path = decode_mailbox_id(request.match_info["mailbox_id"])
    body = await read_body(request, Subscription, svc.config.limits.json_max_bytes)

    async def op(client: MailClient) -> None:
        try:
            await folders.set_subscribed(client, path, body.subscribed)
        except FolderError as exc:
            raise folder_error(exc) from None

    await svc.pool.run(session.lookup, session.credentials, op)
    return web.Response(status=204)


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
        raise BadRequest(f"The parameter 'sort' must be one of {', '.join(SORTS)}.")
    query = request.query.get("q") or None
    if query is not None and (len(query) > _MAX_QUERY or any(c in query for c in "\x00\r\n")):
        raise BadRequest("The search text is too long or has control characters.")
    if query is not None and not query.strip():
        query = None

    async def op(client: MailClient) -> bytes:
        try:
            return await page_json(client, path, offset=offset, limit=limit, sort=sort, query=query)
        except ImapNoError:
            raise NotFound("There is no such mailbox.") from None

    return json_body_response(await svc.pool.run(session.lookup, session.credentials, op))


async def get_quota(request: web.Request) -> web.Response:
    """The account's quota where the server offers IMAP QUOTA (RFC 9208)."""
    session = await require_session(request)
    svc = services(request)

    async def op(client: MailClient) -> Quota | None:
        return await client.quota()

    quota = await svc.pool.run(session.lookup, session.credentials, op)

    def usage(value: Any) -> dict[str, int] | None:
        return None if value is None else {"used": value.used, "limit": value.limit}

    return json_response(
        {
            "storage": usage(quota.storage if quota else None),
            "messages": usage(quota.messages if quota else None),
        }
    )


async def empty_mailbox(request: web.Request) -> web.Response:
    session = await require_session(request)
    svc = services(request)
    path = decode_mailbox_id(request.match_info["mailbox_id"])
    emptied = await svc.reading.empty(session.lookup, session.credentials, path)
    return json_response({"deleted": emptied})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/mailboxes", list_mailboxes)
    app.router.add_get("/api/quota", get_quota)
    app.router.add_post("/api/mailboxes", create_mailbox)
    app.router.add_patch("/api/mailboxes/{mailbox_id}", update_mailbox)
    app.router.add_delete("/api/mailboxes/{mailbox_id}", delete_mailbox)
    app.router.add_put("/api/mailboxes/{mailbox_id}/subscription", put_subscription)
    app.router.add_post("/api/mailboxes/{mailbox_id}/empty", empty_mailbox)
    app.router.add_get("/api/mailboxes/{mailbox_id}/messages", list_messages)
