"""Quota (issue 17): GET /api/quota from IMAP QUOTA where the server offers it (Dovecot
with the quota plugin, as the test Dovecot runs), nothing where not (pymap), and the
client's reading of GETQUOTAROOT answers, odd ones included."""

from __future__ import annotations

import ssl
from typing import Any

import trustme

from mailgate.mail.imap import ImapConnection, MailClient
from mailgate.mail.imap.client import Quota, Usage
from mailgate.testing.client import ApiClient
from tests.integration.imap_servers import fake_imap
from tests.integration.mailfactory import plain_message


async def test_quota_is_reported_where_the_server_offers_it(
    upstream: Any, logged_in: ApiClient, user: tuple[str, str]
) -> None:
    resp = await logged_in.get("/api/quota")
    assert resp.status == 200, resp
    before = resp.json()
    if upstream.name == "pymap":  # no QUOTA capability: nothing to show
        assert before == {"storage": None, "messages": None}
        return
    assert before["messages"] is None  # the test Dovecot limits storage only
    assert before["storage"]["limit"] == 1024**3
    upstream.deliver(user[0], plain_message(1, subject="Weighty", to=user[0], body="x" * 20_000))
    after = (await logged_in.get("/api/quota")).json()["storage"]
    assert after["limit"] == 1024**3
    # Counted in KiB by the server: the message's size, to the KiB.
    assert 19 * 1024 <= after["used"] - before["storage"]["used"] <= 24 * 1024


async def test_quota_requires_a_session(client: ApiClient) -> None:
    assert (await client.get("/api/quota")).status == 401


def _tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


async def _quota_from(answer: bytes, caps: bytes = b"IMAP4rev1 QUOTA") -> tuple[Quota | None, Any]:
    server_ctx, client_ctx = _tls()
    greeting = b"* OK [CAPABILITY " + caps + b"] hi\r\n"

    def reply(tag: bytes, line: bytes) -> bytes:
        if b"GETQUOTAROOT" in line:
            return answer.replace(b"TAG", tag)
        return tag + b" OK [CAPABILITY " + caps + b"] done\r\n"

    async with fake_imap(greeting, reply, server_ctx=server_ctx) as fake:
        conn = await ImapConnection.open("localhost", fake.port, "tls", client_ctx, timeout=5)
        await conn.login("u", "p")
        found = await MailClient(conn).quota()
        conn.close()
    return found, fake


async def test_getquotaroot_answers_are_read_and_odd_ones_give_nothing() -> None:
    found, fake = await _quota_from(
        b'* QUOTAROOT INBOX "User quota"\r\n'
        b'* QUOTA "User quota" (STORAGE 10 512 MESSAGE 3 1000)\r\n'
        b"TAG OK done\r\n"
    )
    assert found == Quota(Usage(10 * 1024, 512 * 1024), Usage(3, 1000))
    assert any(b'GETQUOTAROOT "INBOX"' in line for line in fake.lines)
    # A refusal, no limits, a zero limit and junk all mean: nothing to show.
    for answer in (
        b"TAG NO no quota here\r\n",
        b"* QUOTAROOT INBOX\r\nTAG OK done\r\n",
        b'* QUOTAROOT INBOX "q"\r\n* QUOTA "q" (STORAGE 10 0)\r\nTAG OK done\r\n',
        b'* QUOTAROOT INBOX "q"\r\n* QUOTA "q" (STORAGE ten x)\r\nTAG OK done\r\n',
        b'* QUOTAROOT INBOX "q"\r\n* QUOTA "q"\r\nTAG OK done\r\n',
    ):
        found, _ = await _quota_from(answer)
        assert found is None or found == Quota(None, None), answer
    # Without the capability nothing is asked.
    found, fake = await _quota_from(b"TAG BAD unexpected\r\n", caps=b"IMAP4rev1")
    assert found is None
    assert not any(b"GETQUOTAROOT" in line for line in fake.lines)
