"""Contacts through mailgate's API (GET/POST /api/contacts, PUT/DELETE
/api/contacts/{id}) against a real Radicale over TLS, on both mail upstreams; clear 4xx
for bad input, 502 when the address book is down or not trusted, and nothing asked of an
address book the operator did not configure."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from mailgate.testing.client import ApiClient
from mailgate.testing.logcheck import CANARIES
from mailgate.testing.servers import RunningMailgate
from tests.conftest import OUTPUT, Upstream
from tests.servers.radicale import Radicale


def contacts_settings(upstream: Upstream, radicale: Radicale, url: str = "") -> dict[str, Any]:
    """Overrides for make_mailgate: the address book, and its CA trusted with the others."""
    ca = upstream.settings["upstream"]["ca_file"]
    combined = OUTPUT / f"ca-radicale-{secrets.token_hex(4)}.pem"
    combined.write_bytes(Path(ca).read_bytes() + Path(radicale.ca_file).read_bytes())
    return {
        "contacts": {"carddav_url": url or radicale.url_template},
        "upstream": {"ca_file": str(combined)},
    }


def contact_values(name: str, email: str) -> None:
    CANARIES.add(name, kind="name")
    CANARIES.add(email, kind="address")


@pytest.fixture
async def book(
    make_mailgate: Callable[..., RunningMailgate], upstream: Upstream, radicale: Radicale
) -> AsyncIterator[ApiClient]:
    email, password = upstream.new_user()
    radicale.add_user(email, password)
    running = make_mailgate(**contacts_settings(upstream, radicale))
    async with ApiClient(running.url, running.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        yield api


async def test_create_search_edit_delete(book: ApiClient) -> None:
    name, email = f"Åsa Kontakt{secrets.token_hex(3)}", f"asa.{secrets.token_hex(4)}@example.org"
    contact_values(name, email)
    resp = await book.get("/api/contacts")
    assert resp.status == 200, resp
    assert resp.json() == {"available": True, "contacts": []}

    resp = await book.post(
        "/api/contacts", json={"name": name, "emails": [email], "phones": ["+47 22 33 44 55"]}
    )
    assert resp.status == 201, resp
    made = resp.json()
    assert made["name"] == name and made["emails"] == [email]
    contact_id = made["id"]

    resp = await book.get("/api/contacts?q=" + email[:8].upper())
    assert [c["id"] for c in resp.json()["contacts"]] == [contact_id]
    resp = await book.get("/api/contacts?q=nobody-matches-this")
    assert resp.json()["contacts"] == []

    new_name = name + " Berg"
    contact_values(new_name, email)
    resp = await book.request(
        "PUT", f"/api/contacts/{contact_id}", json={"name": new_name, "emails": [email]}
    )
    assert resp.status == 200, resp
    (listed,) = (await book.get("/api/contacts")).json()["contacts"]
    assert listed == {"id": contact_id, "name": new_name, "emails": [email], "phones": []}

    resp = await book.request("DELETE", f"/api/contacts/{contact_id}")
    assert resp.status == 204, resp
    assert (await book.get("/api/contacts")).json()["contacts"] == []
    resp = await book.request("DELETE", f"/api/contacts/{contact_id}")
    assert resp.status == 404
    resp = await book.request("PUT", f"/api/contacts/{contact_id}", json={"name": "X"})
    assert resp.status == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "A", "emails": ["not an address"]},
        {"name": "A", "emails": ["Name <a@example.org>"]},
        {"name": "A", "emails": ["a@example.org", "A@example.org"]},
        {"name": "A", "phones": ["call me"]},
        {"name": "A", "emails": [f"a{i}@example.org" for i in range(21)]},
        {"name": "A", "note": "x"},
        {"name": 5},
    ],
)
async def test_bad_input_is_a_400(book: ApiClient, body: dict[str, Any]) -> None:
    resp = await book.post("/api/contacts", json=body)
    assert resp.status == 400, resp
    assert resp.error_code == "bad_request"


async def test_bad_query_and_ids(book: ApiClient) -> None:
    assert (await book.get("/api/contacts?q=" + "x" * 201)).status == 400
    assert (await book.request("DELETE", "/api/contacts/..")).status == 404
    assert (await book.request("DELETE", "/api/contacts/nothing.vcf")).status == 404


async def test_csrf_is_needed(book: ApiClient) -> None:
    resp = await book.request("POST", "/api/contacts", json={"name": "A"}, csrf=False)
    assert resp.status == 403


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_no_address_book_configured(logged_in: ApiClient) -> None:
    resp = await logged_in.get("/api/contacts")
    assert resp.status == 200
    assert resp.json() == {"available": False, "contacts": []}
    resp = await logged_in.post("/api/contacts", json={"name": "A"})
    assert resp.status == 404
    assert resp.error_code == "contacts_unavailable"


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_address_book_down_or_untrusted_is_a_502(
    make_mailgate: Callable[..., RunningMailgate], upstream: Upstream, radicale: Radicale
) -> None:
    from tests.servers.ports import free_port

    email, password = upstream.new_user()
    radicale.add_user(email, password)
    down = make_mailgate(
        **contacts_settings(upstream, radicale, f"https://localhost:{free_port()}/{{user}}/")
    )
    untrusted = make_mailgate(contacts={"carddav_url": radicale.url_template})
    for running, code in ((down, "contacts_unavailable"), (untrusted, "upstream_tls_failed")):
        async with ApiClient(running.url, running.client_ssl()) as api:
            assert (await api.login(email, password)).status == 201
            resp = await api.get("/api/contacts")
            assert resp.status == 502, resp
            assert resp.error_code == code
            resp = await api.post("/api/contacts", json={"name": "A"})
            assert resp.status == 502, resp


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_refused_account_is_a_502(
    make_mailgate: Callable[..., RunningMailgate], upstream: Upstream, radicale: Radicale
) -> None:
    email, password = upstream.new_user()  # not a Radicale user
    running = make_mailgate(**contacts_settings(upstream, radicale))
    async with ApiClient(running.url, running.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        resp = await api.get("/api/contacts")
        assert resp.status == 502, resp
        assert resp.error_code == "contacts_unavailable"


def _mail(sender: str, recipient: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
        "Date: Mon, 1 Dec 2025 10:00:00 +0000\r\nMessage-ID: <"
        f"{secrets.token_hex(8)}@example.test>\r\n\r\nHello.\r\n"
    ).encode()


async def test_suggestions_from_sent_inbox_and_the_address_book(
    make_mailgate: Callable[..., RunningMailgate], upstream: Upstream, radicale: Radicale
) -> None:
    email, password = upstream.new_user()
    radicale.add_user(email, password)
    tag = secrets.token_hex(3)
    written = f"Wilma Writtento{tag}", f"wilma.{tag}@elsewhere.example"
    heard = f"Harald Heardfrom{tag}", f"harald.{tag}@elsewhere.example"
    listed = f"Carla Contact{tag}", f"carla.{tag}@elsewhere.example"
    for name, address in (written, heard, listed):
        contact_values(name, address)
    upstream.deliver(email, _mail(email, f"{written[0]} <{written[1]}>", "to wilma"), "Sent")
    upstream.deliver(email, _mail(f"{heard[0]} <{heard[1]}>", email, "from harald"))
    running = make_mailgate(**contacts_settings(upstream, radicale))
    async with ApiClient(running.url, running.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        resp = await api.post("/api/contacts", json={"name": listed[0], "emails": [listed[1]]})
        assert resp.status == 201, resp

        async def suggest(q: str) -> list[tuple[str, str, str]]:
            resp = await api.get(f"/api/contacts/suggest?q={q}")
            assert resp.status == 200, resp
            return [(s["name"], s["email"], s["source"]) for s in resp.json()["suggestions"]]

        assert await suggest("wilma") == [(*written, "mail")]
        assert await suggest("HEARDFROM") == [(*heard, "mail")]
        assert await suggest("carla") == [(*listed, "contacts")]
        everyone = await suggest(tag)
        assert everyone[0] == (*listed, "contacts")  # the address book comes first
        assert sorted(everyone[1:]) == sorted([(*heard, "mail"), (*written, "mail")])
        assert await suggest("") == []
        assert email not in [s[1] for s in await suggest(email.split("@")[0])]  # never oneself
        assert (await api.get("/api/contacts/suggest?q=" + "x" * 201)).status == 400

        # Learned once per session: a message arriving later is not read again ...
        late = f"Lars Latecomer{tag}", f"lars.{tag}@elsewhere.example"
        contact_values(*late)
        upstream.deliver(email, _mail(f"{late[0]} <{late[1]}>", email, "late"))
        assert await suggest("latecomer") == []
        # ... nor kept once the session's mail connection closes unused ...
        svc = running.services
        assert svc.correspondents.session_count() == 1
        svc.pool._config = dataclasses.replace(svc.pool._config, idle_close_s=0.0)
        running.call(svc.pool.close_idle())
        assert svc.correspondents.session_count() == 0
        assert await suggest("latecomer") == [(*late, "mail")]  # learned again
        assert svc.correspondents.session_count() == 1
        # ... and forgotten with the session: a new one learns afresh.
        assert (await api.logout()).status == 204
        assert running.services.correspondents.session_count() == 0
        assert (await api.login(email, password)).status == 201
        assert await suggest("wilma") == [(*written, "mail")]
