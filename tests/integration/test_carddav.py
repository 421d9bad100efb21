"""The CardDAV client (mailgate/mail/contacts.py) against a real Radicale over TLS, and
against a recording fake HTTPS server whose certificate nobody trusts: no request, and so
no credential, reaches a server that is not verified."""

from __future__ import annotations

import asyncio
import secrets
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme

from mailgate.mail.contacts import (
    CardDavAuthError,
    CardDavClient,
    CardDavConflict,
    CardDavNotFound,
    CardDavTlsError,
    ContactDraft,
)
from mailgate.tls import upstream_context
from tests.servers.radicale import Radicale


def _user(radicale: Radicale) -> tuple[str, str, str]:
    user = f"u{secrets.token_hex(4)}@example.test"
    password = f"pw-{secrets.token_hex(8)}-\u2713"
    return user, password, radicale.add_user(user, password)


async def test_create_list_edit_delete(radicale: Radicale) -> None:
    user, password, url = _user(radicale)
    async with CardDavClient(url, user, password, upstream_context(radicale.ca_file), 10) as dav:
        assert await dav.list() == []
        made = await dav.create(
            ContactDraft("Zoë Ångström", ("zoe@example.test",), ("+47 123 45 678",))
        )
        assert made.id.endswith(".vcf")
        listed = await dav.list()
        assert [(c.id, c.name, c.emails, c.phones) for c in listed] == [
            (made.id, "Zoë Ångström", ("zoe@example.test",), ("+47 123 45 678",))
        ]
        edited = await dav.update(made.id, ContactDraft("Zoë Berg", ("zoe@b.example",)))
        assert edited.name == "Zoë Berg"
        (again,) = await dav.list()
        assert (again.name, again.emails, again.phones) == ("Zoë Berg", ("zoe@b.example",), ())
        got, text = await dav.get(made.id)
        assert got.name == "Zoë Berg"
        assert "UID:" in text  # the card keeps the properties mailgate does not edit
        await dav.delete(made.id)
        assert await dav.list() == []
        with pytest.raises(CardDavNotFound):
            await dav.delete(made.id)
        with pytest.raises(CardDavNotFound):
            await dav.update(made.id, ContactDraft("x"))


async def test_a_stale_edit_is_refused(radicale: Radicale) -> None:
    user, password, url = _user(radicale)
    async with CardDavClient(url, user, password, upstream_context(radicale.ca_file), 10) as dav:
        made = await dav.create(ContactDraft("A", ("a@example.test",)))
        # Another client changes the card between mailgate's read and its write.
        original_request = dav._request
        changed = False

        async def meddling(method: str, target: str, **kw: object) -> object:
            nonlocal changed
            if method == "PUT" and not changed:
                changed = True
                async with CardDavClient(
                    url, user, password, upstream_context(radicale.ca_file), 10
                ) as other:
                    await other.update(made.id, ContactDraft("B"))
            return await original_request(method, target, **kw)  # type: ignore[arg-type]

        dav._request = meddling  # type: ignore[method-assign,assignment]
        with pytest.raises(CardDavConflict):
            await dav.update(made.id, ContactDraft("C"))


async def test_wrong_password_is_an_auth_error(radicale: Radicale) -> None:
    user, _password, url = _user(radicale)
    async with CardDavClient(url, user, "wrong", upstream_context(radicale.ca_file), 10) as dav:
        with pytest.raises(CardDavAuthError):
            await dav.list()


async def test_radicale_unknown_to_the_default_trust_store_is_refused(
    radicale: Radicale,
) -> None:
    user, password, url = _user(radicale)
    async with CardDavClient(url, user, password, upstream_context(), 10) as dav:
        with pytest.raises(CardDavTlsError):
            await dav.list()


def test_plain_http_is_refused() -> None:
    with pytest.raises(CardDavTlsError, match="not_https"):
        CardDavClient("http://localhost:1/book/", "u", "p", upstream_context(), 5)


class _RecordingHttps:
    """An HTTPS server that records the decrypted bytes of every request it gets."""

    def __init__(self, ca: trustme.CA) -> None:
        self.received = bytearray()
        self.connections = 0
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost").configure_cert(self._ctx)
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        # Plain TCP first, TLS in the handler: every connection is counted, even one whose
        # handshake the client aborts.
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await writer.start_tls(self._ctx)
            self.received += await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def recording() -> AsyncIterator[tuple[_RecordingHttps, int, trustme.CA]]:
    ca = trustme.CA()
    server = _RecordingHttps(ca)
    port = await server.start()
    yield server, port, ca
    assert server.server is not None
    server.server.close()


async def test_untrusted_certificate_is_refused_before_credentials(
    recording: tuple[_RecordingHttps, int, trustme.CA],
) -> None:
    server, port, _ca = recording
    password = "carddav-secret-\u2713"
    url = f"https://localhost:{port}/someone/contacts/"
    async with CardDavClient(url, "someone@example.test", password, upstream_context(), 5) as dav:
        with pytest.raises(CardDavTlsError):
            await dav.list()
    assert server.connections >= 1  # the client did connect ...
    assert bytes(server.received) == b""  # ... and said nothing after the handshake


async def test_the_control_server_does_get_credentials(
    recording: tuple[_RecordingHttps, int, trustme.CA], tmp_path: object
) -> None:
    """The recording is not blind: with its CA trusted, the request and Basic credentials
    arrive."""
    server, port, ca = recording
    ctx = upstream_context()
    ca.configure_trust(ctx)
    url = f"https://localhost:{port}/someone/contacts/"
    async with CardDavClient(url, "someone@example.test", "pw", ctx, 5) as dav:
        with pytest.raises(CardDavAuthError):
            await dav.list()
    assert b"REPORT /someone/contacts/ HTTP/1.1" in server.received
    assert b"Authorization: Basic " in server.received
