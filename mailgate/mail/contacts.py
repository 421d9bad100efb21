"""Contacts in the account's own CardDAV address book (RFC 6352), one short HTTPS
exchange per call; nothing about a contact is kept by mailgate.

The address book is reached over TLS with the certificate and host name verified
(`mailgate.tls.upstream_context`), before any request (and so before the Basic
credentials) is sent; plain http:// is refused by the configuration and again here.
Redirects are never followed (one could lead the credentials elsewhere). vCards are read
and written with vobject; WebDAV responses are parsed with defusedxml.

Exceptions carry a short ``reason`` token that is safe to log; names, addresses and the
server's own text never go into a log line.
"""

from __future__ import annotations

import base64
import ssl
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import aiohttp

from mailgate.config import ContactsConfig
from mailgate.mail.upstreams import UpstreamDirectory

__all__ = [
    "CONTACT_ID_MAX",
    "CardDavAuthError",
    "CardDavClient",
    "CardDavConflict",
    "CardDavError",
    "CardDavNotFound",
    "CardDavTlsError",
    "CardDavUnavailable",
    "Contact",
    "ContactDraft",
    "ContactsService",
    "valid_contact_id",
]

#: The most a multistatus answer may hold before mailgate stops reading it.
RESPONSE_MAX_BYTES = 16 * 1024 * 1024
CONTACT_ID_MAX = 255

_DAV = "{DAV:}"
_CARD = "{urn:ietf:params:xml:ns:carddav}"
_QUERY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
    b"<D:prop><D:getetag/><C:address-data/></D:prop>"
    b"</C:addressbook-query>"
)


class CardDavError(Exception):
    """Base class; ``reason`` is a short snake_case token safe for logs."""

    summary = "CardDAV error"

    def __init__(self, reason: str = "error") -> None:
        self.reason = reason
        super().__init__(f"{self.summary} ({reason})")


class CardDavUnavailable(CardDavError):
    summary = "CardDAV server unavailable"


class CardDavTlsError(CardDavError):
    summary = "CardDAV TLS failure"


class CardDavAuthError(CardDavError):
    summary = "CardDAV login refused"


class CardDavNotFound(CardDavError):
    summary = "CardDAV contact not found"


class CardDavConflict(CardDavError):
    summary = "CardDAV contact changed meanwhile"


@dataclass(frozen=True, slots=True)
class ContactDraft:
    """What the user edits: a display name, addresses and phone numbers."""

    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    etag: str | None
    name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]

    def matches(self, query: str) -> bool:
        q = query.casefold()
        return q in self.name.casefold() or any(q in e.casefold() for e in self.emails)


def valid_contact_id(contact_id: str) -> bool:
    """A resource name inside the collection: no path, no dot segments, no controls."""
    return (
        0 < len(contact_id) <= CONTACT_ID_MAX
        and contact_id not in (".", "..")
        and "/" not in contact_id
        and "\\" not in contact_id
        and all(ch.isprintable() for ch in contact_id)
    )


def _vcard_to_contact(contact_id: str, etag: str | None, text: str) -> Contact | None:
    import vobject

    try:
        card: Any = vobject.readOne(text)
    except Exception:  # vobject raises many kinds on a malformed card; skip that card
        return None
    contents: dict[str, list[Any]] = getattr(card, "contents", {})
    name = ""
    if "fn" in contents:
        name = str(contents["fn"][0].value).strip()
    emails = tuple(str(e.value).strip() for e in contents.get("email", []) if str(e.value).strip())
    phones = tuple(str(t.value).strip() for t in contents.get("tel", []) if str(t.value).strip())
    return Contact(contact_id, etag, name, emails, phones)


def _apply(card: Any, draft: ContactDraft) -> None:
    """Set the fields mailgate edits on a card, keeping every other property."""
    import vobject

    for key in ("fn", "n", "email", "tel"):
        while key in card.contents:
            del card.contents[key]
    card.add("fn").value = draft.name
    parts = draft.name.rsplit(" ", 1)
    family = parts[1] if len(parts) == 2 else ""
    card.add("n").value = vobject.vcard.Name(
        family=family, given=parts[0] if family else draft.name
    )
    for address in draft.emails:
        email = card.add("email")
        email.value = address
        email.type_param = "INTERNET"
    for number in draft.phones:
        card.add("tel").value = number


def _new_card(uid: str, draft: ContactDraft) -> str:
    import vobject

    card: Any = vobject.vCard()
    card.add("uid").value = uid
    _apply(card, draft)
    return str(card.serialize())


def _parse_multistatus(body: bytes) -> Iterable[tuple[str, str | None, str]]:
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(body)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        raise CardDavUnavailable("bad_xml") from None
    for response in root.iter(f"{_DAV}response"):
        href = (response.findtext(f"{_DAV}href") or "").strip()
        for propstat in response.iter(f"{_DAV}propstat"):
            status = propstat.findtext(f"{_DAV}status") or ""
            if " 200 " not in status:
                continue
            prop = propstat.find(f"{_DAV}prop")
            if prop is None:
                continue
            data = prop.findtext(f"{_CARD}address-data")
            if not data:
                continue
            etag = prop.findtext(f"{_DAV}getetag")
            yield href, (etag.strip() if etag else None), data


class CardDavClient:
    """One address book collection, one account; use as ``async with``."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        ssl_context: ssl.SSLContext,
        timeout: float,
    ) -> None:
        if urlsplit(url).scheme != "https":
            raise CardDavTlsError("not_https")
        self.url = url if url.endswith("/") else url + "/"
        self._path = unquote(urlsplit(self.url).path)
        # RFC 7617 with charset UTF-8 (Radicale, Nextcloud and Dovecot-style servers
        # expect UTF-8); only ever sent on a verified TLS connection.
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._authorization = f"Basic {token}"
        self._ssl = ssl_context
        self._timeout = timeout
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> CardDavClient:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._ssl, limit=2),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _resource(self, contact_id: str) -> str:
        if not valid_contact_id(contact_id):
            raise CardDavNotFound("bad_id")
        return urljoin(self.url, quote(contact_id, safe=""))

    async def _request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 204, 207),
    ) -> tuple[int, bytes, str | None]:
        assert self._http is not None, "use CardDavClient as an async context manager"
        try:
            async with self._http.request(
                method,
                url,
                data=data,
                headers={**(headers or {}), "Authorization": self._authorization},
                allow_redirects=False,
            ) as resp:
                status = resp.status
                etag = resp.headers.get("ETag")
                body = await resp.content.read(RESPONSE_MAX_BYTES + 1)
        except aiohttp.ClientSSLError:
            raise CardDavTlsError("cert_verify_failed") from None
        except ssl.SSLError:
            raise CardDavTlsError("tls_failed") from None
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise CardDavUnavailable("unreachable") from None
        if len(body) > RESPONSE_MAX_BYTES:
            raise CardDavUnavailable("too_large")
        if status in ok:
            return status, body, etag
        if status in (401, 403):
            raise CardDavAuthError(f"http_{status}")
        if status in (404, 410):
            raise CardDavNotFound(f"http_{status}")
        if status == 412:
            raise CardDavConflict("precondition_failed")
        raise CardDavUnavailable(f"http_{status}")

    async def list(self) -> list[Contact]:
        _, body, _ = await self._request(
            "REPORT",
            self.url,
            data=_QUERY,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
            ok=(207,),
        )
        contacts = []
        for href, etag, data in _parse_multistatus(body):
            path = unquote(urlsplit(href).path)
            if not path.startswith(self._path):
                continue  # a resource outside the collection: not ours to show
            contact_id = path[len(self._path) :]
            if not valid_contact_id(contact_id):
                continue
            contact = _vcard_to_contact(contact_id, etag, data)
            if contact is not None:
                contacts.append(contact)
        contacts.sort(key=lambda c: (c.name or (c.emails[0] if c.emails else "")).casefold())
        return contacts

    async def get(self, contact_id: str) -> tuple[Contact, str]:
        _, body, etag = await self._request("GET", self._resource(contact_id), ok=(200,))
        text = body.decode("utf-8", "replace")
        contact = _vcard_to_contact(contact_id, etag, text)
        if contact is None:
            raise CardDavUnavailable("bad_vcard")
        return contact, text

    async def create(self, draft: ContactDraft) -> Contact:
        uid = str(uuid.uuid4())
        contact_id = f"{uid}.vcf"
        text = _new_card(uid, draft)
        _, _, etag = await self._request(
            "PUT",
            self._resource(contact_id),
            data=text.encode(),
            headers={"Content-Type": "text/vcard; charset=utf-8", "If-None-Match": "*"},
            ok=(200, 201, 204),
        )
        return Contact(contact_id, etag, draft.name, draft.emails, draft.phones)

    async def update(self, contact_id: str, draft: ContactDraft) -> Contact:
        import vobject

        current, text = await self.get(contact_id)
        try:
            card: Any = vobject.readOne(text)
        except Exception:
            raise CardDavUnavailable("bad_vcard") from None
        _apply(card, draft)
        headers = {"Content-Type": "text/vcard; charset=utf-8"}
        if current.etag:
            headers["If-Match"] = current.etag
        _, _, etag = await self._request(
            "PUT",
            self._resource(contact_id),
            data=str(card.serialize()).encode(),
            headers=headers,
            ok=(200, 201, 204),
        )
        return Contact(contact_id, etag, draft.name, draft.emails, draft.phones)

    async def delete(self, contact_id: str) -> None:
        await self._request("DELETE", self._resource(contact_id), ok=(200, 204))


class ContactsService:
    """The address book of each account: its domain's `carddav_url`, else
    [contacts] carddav_url; `{user}` in the URL becomes the account's address."""

    def __init__(
        self, config: ContactsConfig, ssl_context: ssl.SSLContext, upstreams: UpstreamDirectory
    ) -> None:
        self.config = config
        self._ssl = ssl_context
        self._upstreams = upstreams

    def url_for(self, address: str) -> str | None:
        upstream = self._upstreams.for_address(address)
        template = (upstream.carddav_url if upstream is not None else "") or (
            self.config.carddav_url
        )
        if not template:
            return None
        return template.replace("{user}", quote(address, safe="@"))

    def client(self, url: str, username: str, password: str) -> CardDavClient:
        return CardDavClient(url, username, password, self._ssl, self.config.timeout_s)
