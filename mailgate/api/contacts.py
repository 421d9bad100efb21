"""GET/POST /api/contacts, PUT/DELETE /api/contacts/{contact_id}: the account's own
CardDAV address book (mailgate/mail/contacts.py), reached with the session's credentials.

Off unless the operator names an address book (`[contacts] carddav_url`, or the domain
map's `carddav_url`): then GET says `available: false` and the other routes answer 404
`contacts_unavailable`. A server that cannot be reached, or that refuses the account,
answers 502 `contacts_unavailable`; no verified TLS, 502 `upstream_tls_failed`. mailgate
keeps no contact: every call asks the address book again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Literal, TypeVar

import msgspec
from aiohttp import web

from mailgate.api.models.base import read_body
from mailgate.api.models.contacts import (
    ContactIn,
    ContactList,
    ContactOut,
    Suggestion,
    SuggestionList,
)
from mailgate.errors import (
    ApiError,
    BadRequest,
    ContactChanged,
    ContactsNotConfigured,
    ContactsUnreachable,
    NotFound,
    UpstreamTlsFailed,
)
from mailgate.http.json_io import json_response
from mailgate.logs import log_event
from mailgate.mail.contacts import (
    CardDavAuthError,
    CardDavClient,
    CardDavConflict,
    CardDavError,
    CardDavNotFound,
    CardDavTlsError,
    Contact,
    valid_contact_id,
)
from mailgate.services import SERVICES, services
from mailgate.session.manager import Session

from .auth import require_session

__all__ = ["setup"]

T = TypeVar("T")
QUERY_MAX = 200
SUGGESTIONS_MAX = 10


def _client(request: web.Request, session: Session) -> CardDavClient | None:
    service = request.app[SERVICES].contacts
    url = service.url_for(session.email)
    if url is None:
        return None
    credentials = session.credentials()
    return service.client(url, credentials.username, credentials.password)


def _require(request: web.Request, session: Session) -> CardDavClient:
    client = _client(request, session)
    if client is None:
        raise ContactsNotConfigured()
    return client


def _map(exc: CardDavError) -> ApiError:
    """One place for address book failures; logs carry our reason token only."""
    if isinstance(exc, CardDavNotFound):
        return NotFound("No such contact.")
    if isinstance(exc, CardDavConflict):
        return ContactChanged()
    log_event(
        "upstream_error",
        logging.WARNING,
        protocol="carddav",
        kind=type(exc).__name__,
        reason=exc.reason,
    )
    if isinstance(exc, CardDavTlsError):
        return UpstreamTlsFailed(
            "The address book could not be reached over a verified TLS connection."
        )
    if isinstance(exc, CardDavAuthError):
        return ContactsUnreachable("The address book did not accept this account.")
    return ContactsUnreachable()


async def _guard(call: Awaitable[T]) -> T:
    try:
        return await call
    except CardDavError as exc:
        raise _map(exc) from None


def _out(contact: Contact) -> ContactOut:
    return ContactOut(
        id=contact.id, name=contact.name, emails=list(contact.emails), phones=list(contact.phones)
    )


def _contact_id(request: web.Request) -> str:
    contact_id = request.match_info["contact_id"]
    if not valid_contact_id(contact_id):
        raise NotFound("No such contact.")
    return contact_id


def _query(request: web.Request) -> str:
    q = request.query.get("q", "").strip()
    if len(q) > QUERY_MAX or not q.isprintable():
        raise BadRequest(f"The parameter 'q' must be at most {QUERY_MAX} printable characters.")
    return q


async def list_contacts(request: web.Request) -> web.Response:
    session = await require_session(request)
    q = _query(request)
    client = _client(request, session)
    if client is None:
        return json_response(msgspec.to_builtins(ContactList(available=False, contacts=[])))
    async with client:
        contacts = await _guard(client.list())
    found = [_out(c) for c in contacts if not q or c.matches(q)]
    return json_response(msgspec.to_builtins(ContactList(available=True, contacts=found)))


async def create_contact(request: web.Request) -> web.Response:
    session = await require_session(request)
    body = await read_body(request, ContactIn, services(request).config.limits.json_max_bytes)
    draft = body.to_draft()
    async with _require(request, session) as client:
        made = await _guard(client.create(draft))
    return json_response(msgspec.to_builtins(_out(made)), status=201)


async def update_contact(request: web.Request) -> web.Response:
    session = await require_session(request)
    contact_id = _contact_id(request)
    body = await read_body(request, ContactIn, services(request).config.limits.json_max_bytes)
    draft = body.to_draft()
    async with _require(request, session) as client:
        saved = await _guard(client.update(contact_id, draft))
    return json_response(msgspec.to_builtins(_out(saved)))


async def delete_contact(request: web.Request) -> web.Response:
    session = await require_session(request)
    contact_id = _contact_id(request)
    async with _require(request, session) as client:
        await _guard(client.delete(contact_id))
    return web.Response(status=204)


async def suggest(request: web.Request) -> web.Response:
    """Addresses for the To/Cc/Bcc fields: matching contacts of the address book first,
    then the correspondents learned from this session's own mail (most frequent first).
    An address book that fails leaves the mail suggestions (and logs our reason)."""
    session = await require_session(request)
    q = _query(request)
    if not q:
        return json_response(msgspec.to_builtins(SuggestionList(suggestions=[])))
    svc = services(request)
    found: list[Suggestion] = []
    seen: set[str] = set()

    def add(name: str, email: str, source: Literal["contacts", "mail"]) -> None:
        key = email.casefold()
        if key not in seen and len(found) < SUGGESTIONS_MAX:
            seen.add(key)
            found.append(Suggestion(name=name, email=email, source=source))

    client = _client(request, session)
    if client is not None:
        try:
            async with client:
                contacts = await client.list()
        except CardDavError as exc:
            _map(exc)  # logged; the suggestions from mail still come
            contacts = []
        for contact in contacts:
            for email in contact.emails:
                if q.casefold() in contact.name.casefold() or q.casefold() in email.casefold():
                    add(contact.name, email, "contacts")

    async def run(op: Any) -> Any:
        return await svc.pool.run(session.lookup, session.credentials, op)

    learned = await svc.correspondents.of_session(session.lookup, session.email, run)
    for person in sorted(learned, key=lambda c: (-c.count, c.email.casefold())):
        if person.matches(q):
            add(person.name, person.email, "mail")
    return json_response(msgspec.to_builtins(SuggestionList(suggestions=found)))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/contacts/suggest", suggest)
    app.router.add_get("/api/contacts", list_contacts)
    app.router.add_post("/api/contacts", create_contact)
    app.router.add_put("/api/contacts/{contact_id}", update_contact)
    app.router.add_delete("/api/contacts/{contact_id}", delete_contact)
