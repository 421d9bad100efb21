"""Opening a message (which sets \\Seen) keeps the client's selection and cached SORT order:
the next list is NOOP + FETCH, not SELECT + SORT + FETCH (benchmarks/README.md), while
changes made by another connection are still noticed."""

from __future__ import annotations

import email.policy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from mailgate.mail.imap import ImapConnection, MailClient
from mailgate.mail.imap.errors import ImapNoError
from tests.servers.dovecot import Dovecot, running_dovecot

USER, PASSWORD = "reader@example.test", "reader-password"
_readers = itertools.count()
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def _message(i: int) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"sender{i}@example.test"
    msg["To"] = USER
    msg["Subject"] = f"Message {i}"
    msg["Date"] = BASE + timedelta(hours=i)
    msg.set_content(f"body {i}")
    return msg.as_bytes()


@pytest.fixture(scope="module")
def dovecot_server() -> Iterator[Dovecot]:
    if not Dovecot.available():
        pytest.skip("needs dovecot and root")
    with running_dovecot() as server:
        yield server


@dataclass(frozen=True)
class Reader:
    server: Dovecot
    email: str


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Reader:
    """A fresh account with ten unseen messages: tests change the mailbox, and run in
    any order."""
    email = f"reader-{next(_readers)}@example.test"
    dovecot_server.add_user(email, PASSWORD)
    for i in range(10):
        dovecot_server.deliver(email, _message(i))  # unseen
    return Reader(dovecot_server, email)


async def _open(reader: Reader) -> MailClient:
    return await reader.server.open_client(reader.email, PASSWORD)


def _record_commands(conn: ImapConnection) -> list[str]:
    """Note the name of every command sent from now on (the real methods still run)."""
    sent: list[str] = []
    command, pipeline = conn.command, conn.pipeline

    async def spy_command(*parts: Any, **kw: Any) -> Any:
        sent.append(str(parts[0]))
        return await command(*parts, **kw)

    async def spy_pipeline(*commands: tuple[Any, ...], **kw: Any) -> Any:
        sent.extend(str(c[0]) for c in commands)
        return await pipeline(*commands, **kw)

    conn.command = spy_command  # type: ignore[method-assign]
    conn.pipeline = spy_pipeline  # type: ignore[method-assign]
    return sent


async def test_own_seen_keeps_selection_and_sort_order(dovecot: Reader) -> None:
    client = await _open(dovecot)
    first = await client.list_page("INBOX", limit=5)
    uid = first.summaries[0].uid
    assert "\\Seen" not in first.summaries[0].flags
    opened = await client.fetch_message("INBOX", uid, peek=False)
    assert opened is not None and "\\Seen" in opened.flags

    sent = _record_commands(client.connection)
    again = await client.list_page("INBOX", limit=5)
    # Neither SELECT nor SORT again, and the parsed summaries come from the cache, with
    # our own \Seen applied to them.
    assert sent == ["NOOP"]
    assert [s.uid for s in again.summaries] == [s.uid for s in first.summaries]
    assert "\\Seen" in again.summaries[0].flags
    # HIGHESTMODSEQ moved with our STORE: the kept selection no longer claims a value.
    assert (await client.select("INBOX")).highestmodseq is None
    await client.logout()


async def test_changes_by_another_connection_are_still_noticed(dovecot: Reader) -> None:
    client, other = await _open(dovecot), await _open(dovecot)
    first = await client.list_page("INBOX", limit=5)
    await client.fetch_message("INBOX", first.summaries[1].uid, peek=False)

    target = first.summaries[2].uid
    await other.store_flags("INBOX", target, flagged=True)
    sent = _record_commands(client.connection)
    flagged = await client.list_page("INBOX", limit=5)
    # The other connection's flag news keeps the selection and the sorted view (no view
    # depends on flags); the summaries are fetched again, with the new flag.
    assert "SELECT" not in sent and "UID SORT" not in sent
    assert "\\Flagged" in next(s.flags for s in flagged.summaries if s.uid == target)

    await other.append("INBOX", _message(99))
    grown = await client.list_page("INBOX", limit=5)
    assert grown.total == first.total + 1
    assert grown.summaries[0].uid not in {s.uid for s in first.summaries}
    await client.logout()
    await other.logout()


async def test_reading_by_uid_trusts_the_kept_selection(dovecot: Reader) -> None:
    """Opening and downloading ask for no news first (their own replies bring it), and a
    download leaves the selection as it was: the next list is a NOOP again. (exists() and
    fetch_sections() do ask: see the expunged-elsewhere test below.)"""
    client = await _open(dovecot)
    first = await client.list_page("INBOX", limit=5)
    uid = first.summaries[3].uid
    sent = _record_commands(client.connection)
    opened = await client.fetch_message("INBOX", uid, peek=True)
    assert opened is not None and opened.raw is not None
    body = opened.raw.split(b"\r\n\r\n", 1)[1].strip()
    assert body.startswith(b"body ")
    chunks = [c async for c in await client.stream_section("INBOX", uid, "1")]
    assert b"".join(chunks).strip() == body
    assert "NOOP" not in sent and "SELECT" not in sent and "EXAMINE" not in sent
    sent.clear()
    again = await client.list_page("INBOX", limit=5)
    assert sent == ["NOOP"]
    assert [s.uid for s in again.summaries] == [s.uid for s in first.summaries]
    await client.logout()


async def test_news_around_a_streamed_literal_is_noticed(dovecot: Reader) -> None:
    """Dovecot reports another connection's append in the reply to our streamed FETCH;
    that news must reach the client, or the next list (whose NOOP has nothing new to
    say) would miss the message."""
    client, other = await _open(dovecot), await _open(dovecot)
    first = await client.list_page("INBOX", limit=5)
    uid = first.summaries[0].uid
    new_uid = await other.append("INBOX", _message(200))
    stream = await client.stream_section("INBOX", uid, "1")
    assert b"".join([c async for c in stream]).startswith(b"body")
    sent = _record_commands(client.connection)
    grown = await client.list_page("INBOX", limit=5)
    # Growth alone: found from the old UIDNEXT on, without a new SELECT.
    assert "UID SEARCH" in sent and "SELECT" not in sent
    assert grown.total == first.total + 1 and grown.summaries[0].uid == new_uid
    await client.logout()
    await other.logout()


async def test_a_message_expunged_elsewhere_reads_as_missing(dovecot: Reader) -> None:
    client, other = await _open(dovecot), await _open(dovecot)
    page = await client.list_page("INBOX", limit=5)
    # Dovecot answers a FETCH for a message expunged elsewhere (news not yet told to this
    # connection) with an empty ghost, and a STORE on it with NO: both must read as gone.
    for uid, peek in ((page.summaries[-1].uid, True), (page.summaries[-2].uid, False)):
        await other.expunge_uid("INBOX", uid)
        assert await client.fetch_message("INBOX", uid, peek=peek) is None
        listed = await client.list_page("INBOX", limit=5)
        assert uid not in {s.uid for s in listed.summaries}
    await client.logout()
    await other.logout()


async def test_rereading_a_seen_message_stores_nothing(dovecot: Reader) -> None:
    """A message this selection already knows as \\Seen is read with one FETCH; one whose
    \\Seen another client cleared (news not yet told to us) is still marked read."""
    client, other = await _open(dovecot), await _open(dovecot)
    page = await client.list_page("INBOX", limit=5)
    uid = page.summaries[0].uid
    await client.fetch_message("INBOX", uid, peek=False)  # \Seen now, in the cache too
    sent = _record_commands(client.connection)
    again = await client.fetch_message("INBOX", uid, peek=False)
    assert again is not None and "\\Seen" in again.flags
    assert sent == ["UID FETCH"]

    await other.store_flags("INBOX", uid, seen=False)
    sent.clear()
    reread = await client.fetch_message("INBOX", uid, peek=False)
    assert reread is not None and "\\Seen" in reread.flags
    assert sent == ["UID FETCH", "UID STORE"]
    assert "\\Seen" in (await other.store_flags("INBOX", uid) or set())
    await client.logout()
    await other.logout()


async def test_another_clients_change_to_the_message_we_read_reaches_the_list(
    dovecot: Reader,
) -> None:
    """Dovecot reports another connection's flag change on a message in the reply to our
    own FETCH of that message (not to a NOOP we no longer send): the list shows it."""
    client, other = await _open(dovecot), await _open(dovecot)
    page = await client.list_page("INBOX", limit=5)
    uid = page.summaries[1].uid
    flagged = "\\Flagged" in page.summaries[1].flags
    await other.store_flags("INBOX", uid, flagged=not flagged)
    for peek in (False, True):
        assert await client.fetch_message("INBOX", uid, peek=peek) is not None
        listed = next(
            s for s in (await client.list_page("INBOX", limit=5)).summaries if s.uid == uid
        )
        assert ("\\Flagged" in listed.flags) is (not flagged), listed.flags
    await client.logout()
    await other.logout()


async def test_news_before_a_failed_stream_is_kept(dovecot: Reader) -> None:
    client, other = await _open(dovecot), await _open(dovecot)
    first = await client.list_page("INBOX", limit=5)
    new_uid = await other.append("INBOX", _message(300))
    with pytest.raises(ImapNoError):
        await client.stream_section("INBOX", 999_999, "1")
    grown = await client.list_page("INBOX", limit=5)
    assert grown.total == first.total + 1 and grown.summaries[0].uid == new_uid
    await client.logout()
    await other.logout()


async def test_exists_and_sections_of_a_message_expunged_elsewhere(dovecot: Reader) -> None:
    """Unlike a FETCH by UID on a kept selection (an empty ghost), these ask for news first:
    the raw download answers 404 and a reply to the message is refused, not sent bare."""
    client, other = await _open(dovecot), await _open(dovecot)
    page = await client.list_page("INBOX", limit=5)
    gone, also_gone = page.summaries[-1].uid, page.summaries[-2].uid
    await other.expunge_uid("INBOX", gone)
    assert await client.exists("INBOX", gone) is False
    await client.list_page("INBOX", limit=5)
    await other.expunge_uid("INBOX", also_gone)
    assert await client.fetch_sections("INBOX", also_gone, ["HEADER"]) == {}
    await client.logout()
    await other.logout()


async def test_exists_on_a_kept_selection_is_one_round_trip(dovecot: Reader) -> None:
    """Reopening a cached message asks only whether it is still there: one UID FETCH, no
    NOOP first; only a "no" (possibly stale news) is asked again after a NOOP."""
    client = await _open(dovecot)
    page = await client.list_page("INBOX", limit=5)
    sent = _record_commands(client.connection)
    assert await client.exists("INBOX", page.summaries[0].uid) is True
    assert sent == ["UID FETCH"]
    sent.clear()
    assert await client.exists("INBOX", max(s.uid for s in page.summaries) + 1000) is False
    assert sent == ["UID FETCH", "NOOP", "UID FETCH"]
    await client.logout()


async def test_reading_an_unread_message_is_one_fetch(dovecot: Reader) -> None:
    """The FETCH of BODY[] marks the message read on the server: no STORE follows, and the
    selection and its views stay (Dovecot's MODSEQ-only FETCH after it is not news)."""
    client, other = await _open(dovecot), await _open(dovecot)
    await other.store_flags("INBOX", 1, seen=False)
    page = await client.list_page("INBOX", limit=5)
    unread = next(s.uid for s in page.summaries if "\\Seen" not in s.flags)
    await client.fetch_message("INBOX", unread, peek=True)  # a read-write selection now
    sent = _record_commands(client.connection)
    opened = await client.fetch_message("INBOX", unread, peek=False)
    assert opened is not None and "\\Seen" in opened.flags
    assert sent == ["UID FETCH"]
    assert "\\Seen" in (await other.store_flags("INBOX", unread) or set())
    sent.clear()
    await client.list_page("INBOX", limit=5)
    assert sent == ["NOOP"]
    await client.logout()
    await other.logout()
