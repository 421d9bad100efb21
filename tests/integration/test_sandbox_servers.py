"""The test servers themselves: private Dovecot, the pymap/aiosmtpd sandbox, private Redis."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import quopri
import smtplib
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mailgate.sandbox import LocalCA, Sandbox, demo_messages
from tests.servers.dovecot import Dovecot, running_dovecot
from tests.servers.redis import RedisServer, running_redis

USER = "alice@example.test"
PASSWORD = "correct horse battery staple"


def _message(number: int, subject: str = "Hello") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Bob <bob@example.org>"
    msg["To"] = USER
    msg["Subject"] = f"{subject} {number}"
    msg["Date"] = "Mon, 04 Mar 2024 10:00:00 +0000"
    msg.set_content(f"Message number {number}.\n")
    return msg.as_bytes(policy=policy.SMTP)


def _select_count(client: imaplib.IMAP4, mailbox: str) -> int:
    typ, data = client.select(mailbox, readonly=True)
    assert typ == "OK", data
    return int(data[0])


# -- Dovecot ---------------------------------------------------------------------------------

needs_dovecot = pytest.mark.skipif(not Dovecot.available(), reason="needs dovecot and root")


@pytest.fixture(scope="module")
def dovecot_server() -> Iterator[Dovecot]:
    if not Dovecot.available():
        pytest.skip("needs dovecot and root")
    with running_dovecot() as server:
        server.add_user(USER, PASSWORD)
        for number in range(30):
            server.deliver(USER, _message(number), flags="S" if number % 2 else "")
        server.deliver(USER, _message(99, "Sent"), mailbox="Sent", flags=("\\Seen",))
        yield server


def _dovecot_login(server: Dovecot, password: str = PASSWORD) -> imaplib.IMAP4_SSL:
    context = ssl.create_default_context(cafile=server.ca_file)
    client = imaplib.IMAP4_SSL(server.host, server.port, ssl_context=context)
    client.login(USER, password)
    return client


@pytest.mark.dovecot
@needs_dovecot
def test_dovecot_login_special_use_and_delivered_count(dovecot_server: Dovecot) -> None:
    client = _dovecot_login(dovecot_server)
    try:
        typ, listing = client.list()
        assert typ == "OK"
        lines = b"\n".join(line for line in listing if isinstance(line, bytes))
        for flag, name in (
            (b"\\Sent", b"Sent"),
            (b"\\Drafts", b"Drafts"),
            (b"\\Trash", b"Trash"),
            (b"\\Junk", b"Junk"),
            (b"\\Archive", b"Archive"),
        ):
            assert any(flag in line and line.endswith(name) for line in lines.split(b"\n")), name
        assert _select_count(client, "INBOX") == 30
        assert _select_count(client, "Sent") == 1
        assert _select_count(client, "INBOX") == 30
        typ, data = client.search(None, "UNSEEN")
        assert typ == "OK" and len(data[0].split()) == 15
    finally:
        client.logout()


@pytest.mark.dovecot
@needs_dovecot
def test_dovecot_capabilities(dovecot_server: Dovecot) -> None:
    client = _dovecot_login(dovecot_server)
    try:
        typ, data = client.capability()
        assert typ == "OK"
        capabilities = set(data[0].upper().split())
        assert {b"SORT", b"MOVE", b"UIDPLUS", b"IDLE", b"SPECIAL-USE", b"CONDSTORE"} <= capabilities
    finally:
        client.logout()


@pytest.mark.dovecot
@needs_dovecot
def test_dovecot_refuses_bad_password_and_untrusted_certificate(dovecot_server: Dovecot) -> None:
    started = time.monotonic()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        _dovecot_login(dovecot_server, "wrong password")
    assert time.monotonic() - started < 1.5  # the failure delay is kept small
    other_ca = LocalCA()
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL(
                dovecot_server.host, dovecot_server.port, ssl_context=other_ca.client_context()
            )
    finally:
        other_ca.cleanup()


@pytest.mark.dovecot
@needs_dovecot
def test_dovecot_restart_keeps_mail_and_port() -> None:
    with running_dovecot() as server:
        server.add_user(USER, PASSWORD)
        for number in range(3):
            server.deliver(USER, _message(number))
        port = server.port
        server.restart()
        assert server.port == port
        client = _dovecot_login(server)
        try:
            assert _select_count(client, "INBOX") == 3
        finally:
            client.logout()


@pytest.mark.dovecot
@needs_dovecot
def test_dovecot_plain_listener_without_tls() -> None:
    with running_dovecot(imaps=False, plain=True, starttls=False) as server:
        server.add_user(USER, PASSWORD)
        assert server.plain_port is not None and server.port is None
        client = imaplib.IMAP4(server.host, server.plain_port)
        try:
            assert "STARTTLS" not in client.capabilities
            client.login(USER, PASSWORD)  # the server itself accepts cleartext logins
        finally:
            client.logout()


# -- the embedded sandbox --------------------------------------------------------------------


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox() as running:
        await running.add_user(USER, PASSWORD)
        yield running


def _sandbox_imap(sb: Sandbox, password: str = PASSWORD) -> imaplib.IMAP4:
    client = imaplib.IMAP4(sb.imap_host, sb.imap_port)
    client.starttls(ssl_context=ssl.create_default_context(cafile=sb.ca_file))
    client.login(USER, password)
    return client


async def test_sandbox_imap_starttls_login_and_delivery(sandbox: Sandbox) -> None:
    uid = await sandbox.deliver(USER, _message(1), flags=("\\Seen",))
    await sandbox.deliver(USER, _message(2), mailbox="Projects/2024")

    def check() -> None:
        client = _sandbox_imap(sandbox)
        try:
            names = b"\n".join(line for line in client.list()[1] if isinstance(line, bytes))
            for name in (b"INBOX", b"Sent", b"Drafts", b"Trash", b"Projects/2024"):
                assert name in names
            assert _select_count(client, "INBOX") == 1
            typ, data = client.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            assert typ == "OK"
            assert b"\\Seen" in data[0][0] and b"Hello 1" in data[0][1]
            assert _select_count(client, "Projects/2024") == 1
        finally:
            client.logout()

    await asyncio.to_thread(check)


async def test_sandbox_imap_refuses_login_before_starttls(sandbox: Sandbox) -> None:
    def check() -> None:
        client = imaplib.IMAP4(sandbox.imap_host, sandbox.imap_port)
        try:
            assert "STARTTLS" in client.capabilities
            assert "LOGINDISABLED" in client.capabilities
            with pytest.raises(imaplib.IMAP4.error):
                client.login(USER, PASSWORD)
        finally:
            with contextlib.suppress(OSError):
                client.shutdown()

    await asyncio.to_thread(check)


async def test_sandbox_certificate_verifies_only_with_sandbox_ca(sandbox: Sandbox) -> None:
    def check() -> None:
        client = imaplib.IMAP4(sandbox.imap_host, sandbox.imap_port)
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                client.starttls(ssl_context=ssl.create_default_context())
        finally:
            with contextlib.suppress(OSError):
                client.shutdown()

    await asyncio.to_thread(check)


async def test_sandbox_smtp_tls_auth_delivers_into_inbox(sandbox: Sandbox) -> None:
    assert sandbox.smtp_security == "tls"
    msg = EmailMessage()
    msg["From"] = USER
    msg["To"] = f"{USER}, outside@example.net"
    msg["Subject"] = "Über SMTP"
    msg["Date"] = "Tue, 05 Mar 2024 09:30:00 +0000"
    msg.set_content("Sent through the sandbox.\n")

    def send_and_read() -> int:
        context = ssl.create_default_context(cafile=sandbox.ca_file)
        with smtplib.SMTP_SSL(sandbox.smtp_host, sandbox.smtp_port, context=context) as smtp:
            smtp.login(USER, PASSWORD)
            refused = smtp.send_message(msg)
        assert refused == {}
        client = _sandbox_imap(sandbox)
        try:
            return _select_count(client, "INBOX")
        finally:
            client.logout()

    assert await asyncio.to_thread(send_and_read) == 1
    [received] = sandbox.smtp.received
    assert received.mail_from == USER
    assert set(received.rcpt_tos) == {USER, "outside@example.net"}
    assert received.auth_login == USER
    parsed = BytesParser(policy=policy.default).parsebytes(received.content)
    assert parsed["Subject"] == "Über SMTP"


async def test_sandbox_smtp_refuses_wrong_password_and_unauthenticated_mail(
    sandbox: Sandbox,
) -> None:
    def check() -> None:
        context = ssl.create_default_context(cafile=sandbox.ca_file)
        with smtplib.SMTP_SSL(sandbox.smtp_host, sandbox.smtp_port, context=context) as smtp:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login(USER, "wrong")
            with pytest.raises(smtplib.SMTPSenderRefused):
                smtp.sendmail(USER, [USER], b"Subject: x\r\n\r\nx\r\n")

    await asyncio.to_thread(check)
    assert sandbox.smtp.received == []


async def test_sandbox_smtp_starttls_variant_and_refused_recipient() -> None:
    async with Sandbox(smtp_starttls=True, refuse_recipients=["bounce@example.net"]) as sb:
        await sb.add_user(USER, PASSWORD)
        assert sb.smtp_security == "starttls"

        def check() -> None:
            with smtplib.SMTP(sb.smtp_host, sb.smtp_port) as smtp:
                smtp.ehlo()
                assert smtp.has_extn("starttls")
                assert not smtp.has_extn("auth")  # no AUTH offered before TLS
                smtp.starttls(context=ssl.create_default_context(cafile=sb.ca_file))
                smtp.ehlo()
                smtp.login(USER, PASSWORD)
                with pytest.raises(smtplib.SMTPRecipientsRefused):
                    smtp.sendmail(USER, ["bounce@example.net"], b"Subject: x\r\n\r\nx\r\n")

        await asyncio.to_thread(check)
        assert sb.smtp.received == []


async def test_sandbox_seeded_user_gets_demo_mail() -> None:
    async with Sandbox() as sb:
        await sb.add_user(USER, PASSWORD, seed=True)
        expected = demo_messages(USER)

        def counts() -> dict[str, int]:
            client = _sandbox_imap(sb)
            try:
                return {name: _select_count(client, name) for name in ("INBOX", "Sent", "Drafts")}
            finally:
                client.logout()

        got = await asyncio.to_thread(counts)
    assert got == {
        name: sum(1 for mailbox, _, _ in expected if mailbox == name)
        for name in ("INBOX", "Sent", "Drafts")
    }
    assert sum(got.values()) >= 30


def test_demo_messages_are_deterministic_and_realistic() -> None:
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    first = demo_messages(USER, now=now)
    assert first == demo_messages(USER, now=now)
    assert first != demo_messages("someone.else@example.test", now=now)
    parsed = [BytesParser(policy=policy.default).parsebytes(raw) for _, raw, _ in first]
    raw_all = b"".join(raw for _, raw, _ in first)
    assert b"tracker.example/p.gif?u=" in raw_all and b"utm_source=" in raw_all
    assert b"=?utf-8?" in raw_all.lower()  # RFC 2047 encoded words
    assert any(m["In-Reply-To"] and m["References"] for m in parsed)
    content_types = {part.get_content_type() for m in parsed for part in m.walk()}
    assert {"application/pdf", "image/png", "text/html", "multipart/related"} <= content_types
    assert any("\\Draft" in flags for mailbox, _, flags in first if mailbox == "Drafts")
    dates = [m["Date"].datetime for m in parsed]
    assert dates == sorted(dates) and (now - dates[0]).days >= 14
    domains = {addr.domain for m in parsed for h in ("From", "To") for addr in m[h].addresses}
    assert all(d.split(".")[-1] in {"org", "com", "net", "test"} for d in domains)
    assert all(d.startswith("example.") or ".example." in d for d in domains)


# -- Redis -------------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.skipif(not RedisServer.available(), reason="needs redis-server")
def test_redis_start_ping_stop_start() -> None:
    with running_redis() as server:
        # No retries: the client must see the outage at once.
        client = redis.Redis.from_url(server.url, socket_timeout=2, retry=Retry(NoBackoff(), 0))
        try:
            assert client.ping()
            client.set("k", "v")
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(
                    host=server.host, port=server.port, password="nope", retry=Retry(NoBackoff(), 0)
                ).ping()
            server.stop()
            with pytest.raises(redis.ConnectionError):
                client.ping()
            server.start()
            assert client.ping()
            assert client.get("k") is None  # memory only: nothing survived the restart
        finally:
            client.close()


def test_demo_newsletters_point_at_the_given_image_host():
    base = "https://127.0.0.1:4443"
    raw_all = b"".join(raw for _, raw, _ in demo_messages("alice@example.test", image_base=base))
    raw_all = quopri.decodestring(raw_all)  # the HTML parts are quoted-printable
    assert b"https://127.0.0.1:4443/shop/banner.png" in raw_all
    assert b"https://127.0.0.1:4443/track/p.gif?u=" in raw_all
    assert b"cdn.shop.example.com" not in raw_all and b"tracker.example" not in raw_all
