"""One mailgate for two mail domains: Dovecot serves alpha.test, the pymap sandbox serves
beta.test, each with its own submission server, and a recording relay in front of each of
the four servers counts who connected. A session only ever reaches its own domain's
servers, and nothing in a request but the address can steer it elsewhere."""

from __future__ import annotations

import asyncio
import io
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from mailgate.config import DomainEntry
from mailgate.sandbox.smtp import SandboxSMTP
from mailgate.testing.client import ApiClient
from mailgate.testing.loop import LoopThread
from mailgate.testing.servers import RunningMailgate, RunningSandbox, free_port, upstream_config
from tests.conftest import CANARIES, OUTPUT
from tests.integration.stall_relay import StallRelay
from tests.servers.dovecot import Dovecot

pytestmark = pytest.mark.dovecot

CYRILLIC_A = "\u0430"
UNKNOWN_DOMAIN_DELAY_S = 0.3


@dataclass
class TwoDomains:
    mailgate: RunningMailgate
    relays: dict[str, StallRelay]  # imap-a, smtp-a, imap-b, smtp-b
    smtp_a: SandboxSMTP
    sandbox: RunningSandbox
    dovecot: Dovecot
    users_a: dict[str, str]

    def counts(self) -> dict[str, int]:
        return {name: len(relay.links) for name, relay in self.relays.items()}

    def new_alpha(self) -> tuple[str, str]:
        email = f"a-{secrets.token_hex(3)}@alpha.test"
        password = f"pw-{secrets.token_urlsafe(9)}"
        self.dovecot.add_user(email, password)
        self.users_a[email] = password
        CANARIES.add(email, password)
        return email, password

    def new_beta(self) -> tuple[str, str]:
        email = f"b-{secrets.token_hex(3)}@beta.test"
        password = f"pw-{secrets.token_urlsafe(9)}"
        self.sandbox.add_user(email, password)
        CANARIES.add(email, password)
        return email, password


@pytest.fixture(scope="module")
def two(dovecot: Dovecot, sandbox: RunningSandbox) -> Iterator[TwoDomains]:
    users_a: dict[str, str] = {}
    # alpha.test's own submission server: accepts only alpha's (Dovecot) accounts.
    smtp_a = SandboxSMTP(
        sandbox.ca.server_context("localhost"),
        lambda login, password: users_a.get(login) == password,
    )
    sandbox.thread.call(smtp_a.start())
    relays = {
        "imap-a": StallRelay(dovecot.port or 0),
        "smtp-a": StallRelay(smtp_a.port),
        "imap-b": StallRelay(sandbox.sandbox.imap_port),
        "smtp-b": StallRelay(sandbox.sandbox.smtp_port),
    }
    ca = OUTPUT / f"ca-two-domains-{secrets.token_hex(4)}.pem"
    ca.write_bytes(Path(dovecot.ca_file).read_bytes() + Path(sandbox.ca_file).read_bytes())
    entries = (
        DomainEntry(
            domain="alpha.test",
            imap_host="localhost",
            imap_port=relays["imap-a"].port,
            imap_security="tls",
            smtp_host="localhost",
            smtp_port=relays["smtp-a"].port,
            smtp_security=smtp_a.security,  # type: ignore[arg-type]
        ),
        DomainEntry(
            domain="beta.test",
            imap_host="localhost",
            imap_port=relays["imap-b"].port,
            imap_security=sandbox.sandbox.imap_security,  # type: ignore[arg-type]
            smtp_host="localhost",
            smtp_port=relays["smtp-b"].port,
            smtp_security=sandbox.sandbox.smtp_security,  # type: ignore[arg-type]
        ),
    )
    config = upstream_config(
        {
            "upstream": {"ca_file": str(ca), "allow_any_port": True},
            "domains": {"entries": entries, "show_on_login": True},
            "throttle": {
                "unknown_domain_delay_s": UNKNOWN_DOMAIN_DELAY_S,
                "client_max_failures": 1000,
            },
        }
    )
    running = RunningMailgate(config).start()
    try:
        yield TwoDomains(running, relays, smtp_a, sandbox, dovecot, users_a)
    finally:
        running.stop()
        for relay in relays.values():
            relay.close()
        sandbox.thread.call(smtp_a.stop())


async def _read_and_send(api: ApiClient, sender: str, to: str) -> None:
    boxes = await api.get("/api/mailboxes")
    assert boxes.status == 200, boxes
    inbox = next(b for b in boxes.json()["mailboxes"] if b["role"] == "inbox")
    listing = await api.get(f"/api/mailboxes/{inbox['id']}/messages")
    assert listing.status == 200, listing
    sent = await api.post(
        "/api/send",
        json={"to": [to], "subject": "hello across domains", "text": f"from {sender}"},
    )
    assert sent.status == 200, sent


async def test_each_domain_is_served_by_its_own_servers_only(two: TwoDomains) -> None:
    alice, alice_pw = two.new_alpha()
    bob, bob_pw = two.new_beta()
    mg = two.mailgate
    before = two.counts()
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(alice, alice_pw)).status == 201
        await _read_and_send(api, alice, bob)
        assert (await api.logout()).status == 204
    after_alice = two.counts()
    assert after_alice["imap-a"] > before["imap-a"] and after_alice["smtp-a"] > before["smtp-a"]
    assert after_alice["imap-b"] == before["imap-b"]
    assert after_alice["smtp-b"] == before["smtp-b"]
    assert any(m.mail_from == alice for m in two.smtp_a.received)

    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(bob, bob_pw)).status == 201
        await _read_and_send(api, bob, alice)
        assert (await api.logout()).status == 204
    after_bob = two.counts()
    assert after_bob["imap-b"] > after_alice["imap-b"]
    assert after_bob["smtp-b"] > after_alice["smtp-b"]
    assert after_bob["imap-a"] == after_alice["imap-a"]
    assert after_bob["smtp-a"] == after_alice["smtp-a"]
    assert any(m.mail_from == bob for m in two.sandbox.sandbox.smtp.received)
    assert not any(m.mail_from == bob for m in two.smtp_a.received)


async def test_served_domains_are_listed_when_the_operator_allows(two: TwoDomains) -> None:
    mg = two.mailgate
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        resp = await api.get("/api/domains")
    assert resp.status == 200
    assert resp.json() == {"domains": ["alpha.test", "beta.test"], "providers": []}


async def test_nothing_but_the_address_steers_the_upstream(two: TwoDomains) -> None:
    alice, alice_pw = two.new_alpha()
    mg = two.mailgate
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        # A wrong password first: the reference 401 (and its timing).
        wrong = await api.login(alice, "not the password")
        assert wrong.status == 401

        # Headers that name another server are not read: alice still reaches alpha only.
        before = two.counts()
        resp = await api.request(
            "POST",
            "/api/session",
            json={"email": alice, "password": alice_pw},
            headers={"X-Forwarded-Host": "localhost:1", "Forwarded": "host=beta.test"},
        )
        assert resp.status == 201, resp
        after = two.counts()
        assert after["imap-a"] > before["imap-a"] and after["imap-b"] == before["imap-b"]
        # A Host header of another site is refused before any upstream is asked.
        before = two.counts()
        resp = await api.request(
            "POST",
            "/api/session",
            json={"email": alice, "password": alice_pw},
            headers={"Host": "beta.test"},
        )
        assert 400 <= resp.status < 500 and resp.status != 401
        assert two.counts() == before
        # A host or port in the body is refused outright.
        for extra in ({"host": "localhost"}, {"port": two.relays["imap-b"].port}):
            resp = await api.request(
                "POST", "/api/session", json={"email": alice, "password": alice_pw, **extra}
            )
            assert resp.status == 400, resp
        assert two.counts() == before

        # Addresses no entry serves: the uniform 401, after the usual delay, and no
        # connection to any server at all.
        local = alice.split("@")[0]
        for address in (
            f"{local}@alpha.test.",
            f"{local}@{CYRILLIC_A}lpha.test",
            f"{local}@[127.0.0.1]",
            f"{local}@gamma.test",
        ):
            before = two.counts()
            started = time.monotonic()
            resp = await api.login(address, alice_pw)
            elapsed = time.monotonic() - started
            assert resp.status == 401, (address, resp)
            assert resp.json() == wrong.json(), address
            assert two.counts() == before, address
            # The delay a wrong password takes (learnt), never an instant answer.
            assert elapsed >= 0.01, address

        # Addresses that map to alpha reach alpha only, whatever the spelling.
        for address in (alice.upper(), f'"{local}@beta.test"@alpha.test'):
            before = two.counts()
            resp = await api.login(address, alice_pw)
            assert resp.status in (201, 401), (address, resp)
            after = two.counts()
            assert after["imap-a"] > before["imap-a"], address
            assert after["imap-b"] == before["imap-b"] and after["smtp-b"] == before["smtp-b"]


async def test_an_unserved_domain_waits_like_a_wrong_password(two: TwoDomains) -> None:
    manager = two.mailgate.services.sessions
    typical = manager.refusal_timing.typical()
    mg = two.mailgate
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        started = time.monotonic()
        resp = await api.login("someone@unserved.test", "whatever")
        elapsed = time.monotonic() - started
    assert resp.status == 401
    assert elapsed >= typical * 0.9


async def test_check_covers_every_upstream_and_reports_capabilities_after_login(
    two: TwoDomains, tmp_path: Path
) -> None:
    from mailgate.check import CheckAccount, run_check
    from mailgate.sandbox.ca import LocalCA

    alice, alice_pw = two.new_alpha()
    ca = LocalCA()
    cert, key = ca.issue("localhost", "127.0.0.1")
    try:
        config = two.mailgate.config
        lines = [
            "[tls]",
            f'cert_file = "{cert}"',
            f'key_file = "{key}"',
            "[upstream]",
            f'ca_file = "{config.upstream.ca_file}"',
            "allow_any_port = true",
        ]
        for entry in config.domains.entries:
            lines += [
                f'[domains."{entry.domain}"]',
                f'imap_host = "{entry.imap_host}"',
                f"imap_port = {entry.imap_port}",
                f'imap_security = "{entry.imap_security}"',
                f'smtp_host = "{entry.smtp_host}"',
                f"smtp_port = {entry.smtp_port}",
                f'smtp_security = "{entry.smtp_security}"',
            ]
        path = tmp_path / "two.toml"
        path.write_text("\n".join(lines) + "\n")
        out = io.StringIO()
        code = await run_check(str(path), out=out, account=CheckAccount(alice, alice_pw))
    finally:
        ca.cleanup()
    report = out.getvalue()
    assert code == 0, report
    for name in ("imap [alpha.test]", "smtp [alpha.test]", "imap [beta.test]", "smtp [beta.test]"):
        assert f"✓ {name}: " in report, report
    # Dovecot announces SORT only after login; the account's own server is logged in to.
    assert "✓ imap [alpha.test] after login: extensions:" in report
    after = next(line for line in report.splitlines() if "after login" in line)
    assert "SORT" in after
    assert "[beta.test] after login" not in report
    assert alice not in report and alice_pw not in report


async def test_every_upstream_failure_gives_the_same_502(two: TwoDomains, tmp_path: Path) -> None:
    """A domain whose server is down and one whose certificate is not trusted answer the
    same 502 body as any upstream failure, and the other domains keep working."""
    untrusted = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    untrusted.issue_cert("localhost").configure_cert(server_ctx)
    thread = LoopThread("untrusted-imap")

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK IMAP4rev1 ready\r\n")
        await writer.drain()
        await reader.read(1024)
        writer.close()

    async def start() -> asyncio.AbstractServer:
        return await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_ctx)

    server = thread.call(start())
    bad_port = server.sockets[0].getsockname()[1]
    closed_port = free_port()
    base = two.mailgate.config
    extra = (
        DomainEntry(
            domain="down.test",
            imap_host="localhost",
            imap_port=closed_port,
            smtp_host="localhost",
            smtp_port=closed_port,
        ),
        DomainEntry(
            domain="untrusted.test",
            imap_host="localhost",
            imap_port=bad_port,
            smtp_host="localhost",
            smtp_port=bad_port,
        ),
    )
    config = base.replace(domains={"entries": base.domains.entries + extra})
    running = RunningMailgate(config).start()
    try:
        async with ApiClient(running.url, running.client_ssl()) as api:
            down = await api.login("x@down.test", "pw")
            bad = await api.login("x@untrusted.test", "pw")
            alice, alice_pw = two.new_alpha()
            good = await api.login(alice, alice_pw)
    finally:
        running.stop()
        server.close()
        thread.close()
    assert down.status == bad.status == 502
    assert down.json() == bad.json()
    assert good.status == 201
