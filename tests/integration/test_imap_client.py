"""The IMAP client against real servers (Dovecot, implicit TLS; pymap, STARTTLS, no SORT and no
SPECIAL-USE) and, for fault injection only, a scripted fake server."""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import json
import os
import random
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme

from mailgate.mail.imap import (
    ImapAuthError,
    ImapConnection,
    ImapStale,
    ImapTlsError,
    ImapUnavailable,
    MailClient,
)
from mailgate.mail.imap.protocol import numbers_of
from mailgate.tls import upstream_context
from tests.integration.imap_servers import Pymap, fake_imap, running_pymap
from tests.servers.dovecot import Dovecot, running_dovecot

N_MESSAGES = 1000
ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORD = "correct horse battery"
BIG = 20 * 1024 * 1024
BASE = datetime(2024, 1, 1, tzinfo=UTC)

needs_dovecot = pytest.mark.skipif(not Dovecot.available(), reason="needs dovecot and root")


def _message(i: int, *, to: str = "carol@example.test", body: str = "hello") -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"Sender {i} <sender{i}@example.test>"
    msg["To"] = to
    msg["Subject"] = f"Message {i:04d}" + (" zebracorn" if i % 100 == 7 else "")
    msg["Date"] = BASE + timedelta(hours=i)
    msg["Message-ID"] = f"<m{i}@example.test>"
    msg.set_content(body + (" quokkabody" if i % 250 == 3 else ""))
    return msg.as_bytes()


def _big_message(payload: bytes) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "big@example.test"
    msg["To"] = ALICE
    msg["Subject"] = "big attachment"
    msg["Date"] = BASE
    msg.set_content("see attachment")
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="b.bin")
    return msg.as_bytes()


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not Dovecot.available():
        pytest.skip("needs dovecot and root")
    with running_dovecot() as server:
        server.add_user(ALICE, PASSWORD)
        server.add_user(BOB, PASSWORD)
        order = list(range(N_MESSAGES))
        random.Random(7).shuffle(order)  # UID order differs from date order
        for i in order:
            server.deliver(ALICE, _message(i), flags="S" if i % 3 else "")
        yield server


@pytest.fixture(scope="module")
def big_payload() -> bytes:
    return random.Random(3).randbytes(BIG)


@pytest.fixture(scope="module")
def pymap() -> Iterator[Pymap]:
    with running_pymap() as server:
        yield server


async def _open_dovecot(server: Dovecot, user: str = ALICE, password: str = PASSWORD) -> MailClient:
    return await server.open_client(user, password)


async def _open_pymap(server: Pymap) -> MailClient:
    conn = await ImapConnection.open(
        server.host, server.port, "starttls", server.client_context(), timeout=10
    )
    await conn.login(server.user, server.password)
    return MailClient(conn)


def _tls_pair(hostname: str = "localhost") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it)."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(hostname).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


# -- connection and login ----------------------------------------------------------------------


@needs_dovecot
async def test_login_ok_and_refused(dovecot: Dovecot) -> None:
    client = await _open_dovecot(dovecot)
    assert "SORT" in client.connection.capabilities  # refreshed after login
    await client.logout()
    assert client.closed
    with pytest.raises(ImapAuthError):
        await _open_dovecot(dovecot, password="wrong password")


@needs_dovecot
async def test_sec_37_untrusted_certificate_refused(dovecot: Dovecot) -> None:
    with pytest.raises(ImapTlsError) as err:
        await ImapConnection.open("localhost", dovecot.port, "tls", upstream_context(), timeout=5)
    assert err.value.reason == "cert_verify_failed"


async def test_sec_37_wrong_hostname_refused_before_any_byte() -> None:
    server_ctx, client_ctx = _tls_pair("other.example")
    async with fake_imap(
        b"* OK hi\r\n", lambda t, line: t + b" OK\r\n", server_ctx=server_ctx
    ) as f:
        with pytest.raises(ImapTlsError) as err:
            await ImapConnection.open("localhost", f.port, "tls", client_ctx, timeout=5)
    assert err.value.reason == "cert_verify_failed"
    assert f.received == b""


async def test_sec_14_password_sent_byte_for_byte() -> None:
    password = ' "quoted" \\ back {5} ' + "😀 ü " * 20 + "  "
    assert len(password) >= 64
    server_ctx, client_ctx = _tls_pair()
    caps = b"[CAPABILITY IMAP4rev1]"
    async with fake_imap(
        b"* OK " + caps + b" hi\r\n",
        lambda t, line: t + b" OK " + caps + b" done\r\n",
        server_ctx=server_ctx,
    ) as fake:
        conn = await ImapConnection.open("localhost", fake.port, "tls", client_ctx, timeout=5)
        await conn.login("user ü", password)  # no LITERAL+: synchronizing literals
        conn.close()
    secret = password.encode()
    assert b"{%d}\r\n" % len(secret) + secret + b"\r\n" in fake.received
    assert b"{%d}\r\n" % len("user ü".encode()) + "user ü".encode() in fake.received
    with pytest.raises(ValueError):
        await conn.login("a", "b\r\nX")


@pytest.mark.parametrize(
    "answer",
    [
        b"* SEARCH 7 4294967296\r\n",  # one above 32 bits: read as numbers only
        b"* SEARCH 7 0\r\n",  # no UID or message number is 0
        b"* SEARCH 7 99999999999999999999 (MODSEQ 12)\r\n",  # read by the tokenizer
    ],
)
async def test_search_reply_with_a_number_outside_32_bits_is_a_protocol_error(
    answer: bytes,
) -> None:
    """A broken server's SEARCH reply is the server's failure (502), never a 500; where the
    reply could not be read to its end, the connection is closed rather than reused."""
    caps = b"[CAPABILITY IMAP4rev1]"

    def reply(tag: bytes, line: bytes) -> bytes:
        if b"SEARCH" in line:
            return answer + tag + b" OK done\r\n"
        return tag + b" OK " + caps + b" done\r\n"

    server_ctx, client_ctx = _tls_pair()
    async with fake_imap(b"* OK " + caps + b" hi\r\n", reply, server_ctx=server_ctx) as fake:
        conn = await ImapConnection.open("localhost", fake.port, "tls", client_ctx, timeout=5)
        await conn.login("user", "password")
        with pytest.raises(ImapUnavailable) as err:
            numbers_of(await conn.command("UID SEARCH", "ALL"), "SEARCH")
        assert err.value.reason == "number_out_of_range"
        if b"MODSEQ" not in answer:
            assert conn.closed
        conn.close()


async def test_sec_43_preauth_greeting_aborts_with_nothing_sent() -> None:
    async with fake_imap(b"* PREAUTH welcome\r\n", lambda t, line: t + b" OK\r\n") as fake:
        with pytest.raises(ImapTlsError) as err:
            await ImapConnection.open(
                "localhost", fake.port, "starttls", ssl.create_default_context(), timeout=5
            )
        await asyncio.sleep(0.05)
    assert err.value.reason == "preauth"
    assert fake.received == b""


@pytest.mark.parametrize("greeting_caps", [True, False])
async def test_sec_41_server_without_starttls_refused(greeting_caps: bool) -> None:
    def reply(tag: bytes, line: bytes) -> bytes:
        return b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK\r\n"

    greeting = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n" if greeting_caps else b"* OK hi\r\n"
    async with fake_imap(greeting, reply) as fake:
        with pytest.raises(ImapTlsError) as err:
            await ImapConnection.open(
                "localhost", fake.port, "starttls", ssl.create_default_context(), timeout=5
            )
        await asyncio.sleep(0.05)
    assert err.value.reason == "no_starttls"
    # nothing but (at most) the CAPABILITY question: no LOGIN, no STARTTLS
    assert fake.received in (b"", b"M1 CAPABILITY\r\n")
    assert (fake.received == b"") == greeting_caps


async def test_sec_42_starttls_response_injection_aborts() -> None:
    def reply(tag: bytes, line: bytes) -> bytes:
        return tag + b" OK begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] INJECTED\r\n"

    async with fake_imap(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", reply) as fake:
        with pytest.raises(ImapTlsError) as err:
            await ImapConnection.open(
                "localhost", fake.port, "starttls", ssl.create_default_context(), timeout=5
            )
        await asyncio.sleep(0.05)
    assert err.value.reason == "starttls_injection"
    assert fake.received == b"M1 STARTTLS\r\n"


async def test_sec_42_capabilities_reissued_after_starttls(pymap: Pymap) -> None:
    conn = await ImapConnection.open(
        "localhost", pymap.port, "starttls", pymap.client_context(), timeout=10
    )
    # pymap advertises STARTTLS only before TLS: these are the post-TLS capabilities
    assert "STARTTLS" not in conn.capabilities and "IMAP4REV1" in conn.capabilities
    await conn.login(pymap.user, pymap.password)
    assert "UIDPLUS" in conn.capabilities
    await conn.logout()


async def test_sec_37_pymap_untrusted_certificate_refused(pymap: Pymap) -> None:
    with pytest.raises(ImapTlsError) as err:
        await ImapConnection.open(
            "localhost", pymap.port, "starttls", upstream_context(), timeout=5
        )
    assert err.value.reason == "cert_verify_failed"


async def test_unreachable_and_timeout_and_bye() -> None:
    from tests.servers.ports import free_port

    with pytest.raises(ImapUnavailable):
        await ImapConnection.open(
            "localhost", free_port(), "tls", ssl.create_default_context(), timeout=2
        )
    server_ctx, client_ctx = _tls_pair()

    def reply(tag: bytes, line: bytes) -> bytes:
        verb = line.split()[1].upper()
        if verb == b"NOOP":
            return b""  # never answers: the whole-command timeout fires
        if verb == b"CHECK":
            return b"* BYE going down\r\n"  # and the fake closes the connection
        return tag + b" OK\r\n"

    greeting = b"* OK [CAPABILITY IMAP4rev1] hi\r\n"
    async with fake_imap(greeting, reply, server_ctx=server_ctx) as fake:
        conn = await ImapConnection.open("localhost", fake.port, "tls", client_ctx, timeout=0.5)
        with pytest.raises(ImapUnavailable) as err:
            await conn.noop()
        assert err.value.reason == "timeout" and conn.closed
        conn = await ImapConnection.open("localhost", fake.port, "tls", client_ctx, timeout=2)
        client = MailClient(conn)
        with pytest.raises(ImapUnavailable):
            await conn.command("CHECK")
        assert client.closed


async def test_sec_65_mailbox_name_cannot_inject_commands() -> None:
    server_ctx, client_ctx = _tls_pair()

    def reply(tag: bytes, line: bytes) -> bytes:
        return tag + b" NO [NONEXISTENT] no\r\n"

    caps = b"* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n"
    async with fake_imap(caps, reply, server_ctx=server_ctx) as fake:
        conn = await ImapConnection.open("localhost", fake.port, "tls", client_ctx, timeout=5)
        client = MailClient(conn)
        with pytest.raises(ValueError):
            await client.select('INBOX"\r\nA1 DELETE INBOX')
        with pytest.raises(ValueError):
            await client.list_page("INBOX", query="x\r\nA1 DELETE INBOX")
        with pytest.raises(Exception, match="command refused"):
            await client.select('Tom "&" Jerry\\')
        conn.close()
    assert b"DELETE" not in fake.received
    assert fake.received.count(b"\r\n") == 1  # exactly one command line
    assert b'SELECT "Tom \\"&-\\" Jerry\\\\"\r\n' in fake.received


# -- mailboxes ---------------------------------------------------------------------------------


@needs_dovecot
async def test_mailboxes_roles_and_counts_dovecot(dovecot: Dovecot) -> None:
    client = await _open_dovecot(dovecot)
    boxes = {m.path: m for m in await client.mailboxes()}
    assert boxes["INBOX"].role == "inbox"
    assert (boxes["INBOX"].total, boxes["INBOX"].unread) == (N_MESSAGES, (N_MESSAGES + 2) // 3)
    assert {boxes[n].role for n in ("Sent", "Drafts", "Trash", "Junk", "Archive")} == {
        "sent",
        "drafts",
        "trash",
        "junk",
        "archive",
    }
    await client.logout()


@needs_dovecot
async def test_mailbox_names_utf7_round_trip(dovecot: Dovecot) -> None:
    client = await _open_dovecot(dovecot, BOB)
    await client.connection.command("CREATE", '"Entw&APw-rfe/&ZeVnLIqe-"')
    dovecot.deliver(BOB, _message(1), mailbox="Entwürfe/日本語")
    boxes = {m.path: m for m in await client.mailboxes()}
    box = boxes["Entwürfe/日本語"]
    assert (box.name, box.delimiter, box.total) == ("日本語", "/", 1)
    page = await client.list_page("Entwürfe/日本語")
    assert page.total == 1
    await client.logout()


async def test_mailboxes_roles_by_name_pymap(pymap: Pymap) -> None:
    client = await _open_pymap(pymap)
    assert "SPECIAL-USE" not in client.connection.capabilities
    boxes = {m.path: m for m in await client.mailboxes()}
    assert boxes["INBOX"].role == "inbox"
    assert boxes["Sent"].role == "sent" and boxes["Trash"].role == "trash"
    assert boxes["INBOX"].total >= 1
    await client.logout()


# -- listing -----------------------------------------------------------------------------------


@needs_dovecot
async def test_paging_sort_and_search_dovecot(dovecot: Dovecot) -> None:
    client = await _open_dovecot(dovecot)
    newest = await client.list_page("INBOX", offset=0, limit=50)
    assert newest.total == N_MESSAGES and len(newest.summaries) == 50
    subjects = [s.envelope.subject for s in newest.summaries]
    assert subjects[0] == f"Message {N_MESSAGES - 1:04d}"
    assert subjects == sorted(subjects, reverse=True)  # date order, not UID order
    second = await client.list_page("INBOX", offset=50, limit=50)
    assert second.summaries[0].envelope.subject == f"Message {N_MESSAGES - 51:04d}"
    oldest = await client.list_page("INBOX", offset=0, limit=10, sort="date_asc")
    assert [s.envelope.subject for s in oldest.summaries][:2] == ["Message 0000", "Message 0001"]
    first = newest.summaries[0]
    assert first.envelope.from_ == [
        {"name": f"Sender {N_MESSAGES - 1}", "email": f"sender{N_MESSAGES - 1}@example.test"}
    ]
    assert first.preview == "hello" and first.size > 0 and first.internaldate is not None
    assert not first.has_attachments
    # search: subject, body, sender, recipient
    hits = await client.list_page("INBOX", query="zebracorn", limit=200)
    assert hits.total == N_MESSAGES // 100
    assert all("zebracorn" in (s.envelope.subject or "") for s in hits.summaries)
    assert (await client.list_page("INBOX", query="quokkabody")).total == N_MESSAGES // 250
    assert (await client.list_page("INBOX", query="sender123@example.test")).total == 1
    assert (await client.list_page("INBOX", query="carol@example.test")).total == N_MESSAGES
    assert (await client.list_page("INBOX", query="Grüße-nirgends")).total == 0
    assert (await client.list_page("INBOX", offset=N_MESSAGES)).summaries == []
    with pytest.raises(ImapStale):
        await client.list_page("INBOX", uidvalidity=newest.uidvalidity + 1)
    await client.logout()


async def test_date_order_without_sort_pymap(pymap: Pymap) -> None:
    """Without SORT, newest first still means by sent date (RFC 5256): a message restored
    or imported later lands at its date, one without a Date header at its arrival, and a
    second list fetches the dates of new messages only."""
    client = await _open_pymap(pymap)
    assert "SORT" not in client.connection.capabilities
    await client.connection.command("CREATE", '"Dated"')
    for i in (5, 1, 9, 3):  # arrival order is not date order
        await client.append("Dated", _message(i))
    undated = _message(8).replace(b"Date: ", b"X-Old-Date: ", 1)  # 2024: older than now
    await client.append("Dated", undated)
    page = await client.list_page("Dated")
    subjects = [s.envelope.subject for s in page.summaries]
    assert subjects == [
        "Message 0008",
        "Message 0009",
        "Message 0005",
        "Message 0003",
        "Message 0001",
    ]

    sent: list[str] = []
    command = client.connection.command

    async def spy(*parts: Any, **kw: Any) -> Any:
        sent.append(" ".join(str(p) for p in parts))
        return await command(*parts, **kw)

    client.connection.command = spy  # type: ignore[method-assign]
    restored = await client.append("Dated", _message(2))  # e.g. back from Trash
    oldest_first = await client.list_page("Dated", sort="date_asc")
    assert [s.envelope.subject for s in oldest_first.summaries][:3] == [
        "Message 0001",
        "Message 0002",
        "Message 0003",
    ]
    date_fetches = [c for c in sent if "HEADER.FIELDS (DATE)" in c]
    assert len(date_fetches) == 1 and (
        restored is None or f" {restored} " in f" {date_fetches[0]} "
    )
    await client.logout()


async def test_paging_sort_and_search_pymap(pymap: Pymap) -> None:
    client = await _open_pymap(pymap)
    assert "SORT" not in client.connection.capabilities
    await client.connection.command("CREATE", '"Bulk"')
    for i in range(N_MESSAGES):  # appended in date order, so arrival order = date order
        await client.append("Bulk", _message(i))
    newest = await client.list_page("Bulk", limit=50)
    assert newest.total == N_MESSAGES
    assert newest.summaries[0].envelope.subject == f"Message {N_MESSAGES - 1:04d}"
    assert [s.uid for s in newest.summaries] == sorted(
        (s.uid for s in newest.summaries), reverse=True
    )
    oldest = await client.list_page("Bulk", offset=5, limit=5, sort="date_asc")
    subjects = [s.envelope.subject or "" for s in oldest.summaries]
    assert [s[:12] for s in subjects] == [f"Message {i:04d}" for i in range(5, 10)]
    hits = await client.list_page("Bulk", query="zebracorn", limit=200)
    assert hits.total == N_MESSAGES // 100
    assert (await client.list_page("Bulk", query="quokkabody")).total == N_MESSAGES // 250
    assert (await client.list_page("Bulk", query="sender42@example.test")).total == 1
    await client.logout()


# -- one message ---------------------------------------------------------------------------------


@needs_dovecot
async def test_fetch_message_small_large_and_missing(dovecot: Dovecot, big_payload: bytes) -> None:
    small = _message(5000, to=BOB)
    dovecot.deliver(BOB, small, mailbox="Archive")
    big = _big_message(big_payload[: 600 * 1024])
    dovecot.deliver(BOB, big, mailbox="Archive", internaldate=BASE.timestamp() + 10)
    client = await _open_dovecot(dovecot, BOB)
    page = await client.list_page("Archive", sort="date_asc")
    big_uid, small_uid = (s.uid for s in page.summaries)  # the big one is dated earlier
    assert page.summaries[0].has_attachments and not page.summaries[1].has_attachments
    msg = await client.fetch_message("Archive", small_uid, peek=True)
    assert msg is not None and msg.raw == small and msg.size == len(small)
    assert msg.header == small[: small.index(b"\r\n\r\n") + 4]
    assert "\\Seen" not in msg.flags
    large = await client.fetch_message("Archive", big_uid, peek=False)
    assert large is not None and large.raw is None and large.size == len(big)
    assert large.header == big[: big.index(b"\r\n\r\n") + 4]
    assert "\\Seen" in large.flags
    assert [p.part for p in large.bodystructure.walk()] == ["", "1", "2"]
    parts = await client.fetch_sections("Archive", big_uid, ["1.MIME", "1", "2.MIME", "2"])
    assert parts["1"].strip() == b"see attachment"
    assert b"b.bin" in parts["2.MIME"]
    # reading without peek marked it seen on the server
    assert "\\Seen" in (await client.store_flags("Archive", big_uid) or set())
    assert await client.fetch_message("Archive", 999_999, peek=True) is None
    with pytest.raises(ValueError):
        await client.fetch_sections("Archive", big_uid, ["1] BODY[2"])
    await client.logout()


@needs_dovecot
async def test_stream_20mb_attachment_bounded_memory(dovecot: Dovecot, big_payload: bytes) -> None:
    dovecot.deliver(BOB, _big_message(big_payload), mailbox="Junk")
    client = await _open_dovecot(dovecot, BOB)
    # Other tests move messages into BOB's Junk too (any order): take the big one.
    uid = max((await client.list_page("Junk")).summaries, key=lambda s: s.size).uid
    chunk_size = 64 * 1024
    probe = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.stream_memory_probe",
            dovecot.host,
            str(dovecot.port),
            str(dovecot.ca_file),
            BOB,
            "Junk",
            str(uid),
            "2",
            str(chunk_size),
        ],
        input=PASSWORD,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    result = json.loads(probe.stdout)
    assert result["decoded"] and result["size"] == BIG
    assert result["total"] == BIG
    assert result["sha256"] == hashlib.sha256(big_payload).hexdigest()
    assert result["max_chunk"] <= chunk_size
    assert result["peak"] < 4 * 1024 * 1024, result  # the 20 MiB are never held at once
    # the connection is in sync afterwards
    assert (await client.fetch_sections("Junk", uid, ["1"]))["1"].strip() == b"see attachment"
    # the whole raw message streams too
    raw = b"".join([c async for c in await client.stream_section("Junk", uid, "")])
    assert raw.startswith(b"From: big@example.test")
    await client.logout()


@needs_dovecot
async def test_abandoned_stream_never_desynchronises(dovecot: Dovecot, big_payload: bytes) -> None:
    dovecot.deliver(BOB, _big_message(big_payload[: 300 * 1024]), mailbox="Drafts")
    dovecot.deliver(BOB, _big_message(big_payload), mailbox="Drafts")
    client = await _open_dovecot(dovecot, BOB)
    small_uid, big_uid = (
        s.uid for s in (await client.list_page("Drafts", sort="date_asc")).summaries
    )
    # small rest: drained, connection reusable
    stream = await client.stream_section("Drafts", small_uid, "2", chunk_size=16 * 1024)
    assert len(await stream.__anext__()) <= 16 * 1024
    await stream.aclose()
    assert not client.closed
    assert (await client.fetch_sections("Drafts", small_uid, ["1"]))[
        "1"
    ].strip() == b"see attachment"
    # large rest: closed rather than read 20 MiB nobody wants
    stream = await client.stream_section("Drafts", big_uid, "2")
    await stream.__anext__()
    await stream.aclose()
    assert client.closed
    with pytest.raises(ImapUnavailable):
        await client.connection.noop()


async def test_stream_and_fetch_pymap(pymap: Pymap) -> None:
    client = await _open_pymap(pymap)
    payload = os.urandom(200_000)
    uid = await client.append("INBOX", _big_message(payload))
    assert uid is not None
    stream = await client.stream_section("INBOX", uid, "2", chunk_size=8192)
    chunks = [c async for c in stream]
    assert max(map(len, chunks)) <= 8192
    assert b"".join(chunks) == payload and stream.decoded
    msg = await client.fetch_message("INBOX", uid, peek=True, max_inline=1024)
    assert msg is not None and msg.raw is None and msg.header.startswith(b"From: big@")
    await client.logout()


# -- changes -----------------------------------------------------------------------------------


@needs_dovecot
async def test_flags_move_append_expunge_dovecot(dovecot: Dovecot) -> None:
    client = await _open_dovecot(dovecot, BOB)
    uids = [await client.append("Trash", _message(7000 + i, to=BOB)) for i in range(3)]
    assert all(isinstance(u, int) for u in uids)
    a, b, c = uids
    assert await client.store_flags("Trash", a, seen=True, flagged=True) >= {"\\Seen", "\\Flagged"}
    flags = await client.store_flags("Trash", a, seen=False)
    assert "\\Seen" not in flags and "\\Flagged" in flags
    new_uid = await client.move("Trash", a, "Sent")
    assert isinstance(new_uid, int)
    moved = await client.fetch_message("Sent", new_uid, peek=True)
    assert moved is not None and b"Message 7000" in (moved.raw or b"")
    assert await client.fetch_message("Trash", a, peek=True) is None
    # expunge only the addressed UID even though another message is \Deleted too
    await client.store_flags("Trash", b)
    await client.connection.command("UID STORE", str(c), "+FLAGS.SILENT", "(\\Deleted)")
    await client.expunge_uid("Trash", b)
    assert await client.fetch_message("Trash", b, peek=True) is None
    assert await client.fetch_message("Trash", c, peek=True) is not None
    await client.logout()


@needs_dovecot
async def test_move_fallback_without_move_capability(dovecot: Dovecot) -> None:
    client = await _open_dovecot(dovecot, BOB)
    uid = await client.append("Trash", _message(8000, to=BOB))
    other = await client.append("Trash", _message(8001, to=BOB))
    await client.select("Trash")
    await client.connection.command("UID STORE", str(other), "+FLAGS.SILENT", "(\\Deleted)")
    conn = client.connection
    conn.capabilities = conn.capabilities - {"MOVE"}  # the COPY + UID EXPUNGE path, for real
    new_uid = await client.move("Trash", uid, "Junk")
    assert new_uid is not None
    assert await client.fetch_message("Trash", uid, peek=True) is None
    assert await client.fetch_message("Trash", other, peek=True) is not None
    assert await client.fetch_message("Junk", new_uid, peek=True) is not None
    conn.capabilities = conn.capabilities - {"UIDPLUS"}  # no UIDPLUS: flag only, never EXPUNGE
    third = (await client.list_page("Trash", limit=1)).summaries[0].uid
    await client.move("Trash", third, "Junk")  # (Dovecot still reports COPYUID)
    left = await client.fetch_message("Trash", third, peek=True)
    assert left is not None and "\\Deleted" in left.flags
    assert await client.fetch_message("Trash", other, peek=True) is not None
    await client.logout()


async def test_flags_move_expunge_pymap(pymap: Pymap) -> None:
    client = await _open_pymap(pymap)
    a = await client.append("INBOX", _message(1, to="x@example.test"), flags=["\\Flagged"])
    b = await client.append("INBOX", _message(2, to="x@example.test"))
    assert a is not None and b is not None
    flags = await client.store_flags("INBOX", a, seen=True, flagged=False)
    assert "\\Seen" in flags and "\\Flagged" not in flags
    new_uid = await client.move("INBOX", a, "Sent")  # the demo Trash is read-only
    assert new_uid is not None
    assert await client.fetch_message("Sent", new_uid, peek=True) is not None
    assert await client.fetch_message("INBOX", a, peek=True) is None
    await client.expunge_uid("INBOX", b)
    assert await client.fetch_message("INBOX", b, peek=True) is None
    with pytest.raises(ValueError):
        await client.append("INBOX", b"x", flags=["\\Seen) X"])
    await client.logout()


@needs_dovecot
async def test_select_reuse_notices_changes_and_idle(dovecot: Dovecot) -> None:
    client = await _open_dovecot(dovecot, BOB)
    other = await _open_dovecot(dovecot, BOB)
    first = await client.select("INBOX")
    assert first.highestmodseq is not None
    assert await client.select("INBOX") == first  # unchanged: NOOP only
    await other.append("INBOX", _message(9000, to=BOB))
    second = await client.select("INBOX")
    assert second.exists == first.exists + 1
    idle = asyncio.create_task(client.idle(10))
    await asyncio.sleep(0.3)
    await other.append("INBOX", _message(9001, to=BOB))
    untagged = await asyncio.wait_for(idle, 10)
    assert any(u.kind == "EXISTS" for u in untagged)
    assert (await client.select("INBOX")).exists == second.exists + 1
    await client.logout()
    await other.logout()


async def _chunks_of(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@needs_dovecot
@pytest.mark.parametrize("literal_plus", [True, False])
async def test_append_stream_with_and_without_literal_plus(
    dovecot: Dovecot, big_payload: bytes, literal_plus: bool
) -> None:
    client = await _open_dovecot(dovecot, BOB)
    if not literal_plus:
        # Fault injection: behave as with a server that lacks LITERAL+, so the
        # synchronizing `{n}` + continuation path is taken.
        conn = client.connection
        conn.capabilities = conn.capabilities - {"LITERAL+", "LITERAL-"}
    raw = _big_message(big_payload[:300_000])
    uid = await client.append_stream("INBOX", len(raw), _chunks_of(raw), flags=["\\Seen"])
    assert uid is not None
    sections = await client.fetch_sections("INBOX", uid, [""])
    assert sections[""] == raw
    # A stream that breaks its announced size closes the link instead of desynchronising it.
    with pytest.raises(ValueError):
        await client.append_stream("INBOX", len(raw) + 10, _chunks_of(raw))
    assert client.closed


@needs_dovecot
async def test_two_logouts_at_once_are_quiet(dovecot: Dovecot) -> None:
    """A feed stopped twice at once (a wipe and its last tab leaving): the second LOGOUT,
    queued behind the first, finds the connection closed instead of writing to a dead TLS
    transport (asyncio raises AttributeError there)."""
    client = await _open_dovecot(dovecot)
    await asyncio.gather(client.logout(), client.logout(), client.logout())
    assert client.closed
