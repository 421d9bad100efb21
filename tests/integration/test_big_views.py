"""The cached sorted view of a selection (issue 19, big mailboxes), on Dovecot with SORT,
on Dovecot with SORT hidden from the client, and on pymap (no SORT): a mailbox that grows
and shrinks under another client keeps the view exactly the server's date order, checked
after every step against the known dates and, on Dovecot, a fresh UID SORT; flag news
keeps the view without a new SELECT or SORT; the session's first mailbox list selects INBOX
in passing, so its list needs no second opening; what the views hold is bounded; and a
page's JSON is made again only when the page changed."""

from __future__ import annotations

import email.policy
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from mailgate.mail.ids import message_id
from mailgate.mail.imap import ImapConnection, MailClient
from mailgate.mail.imap import client as client_module
from mailgate.mail.imap.protocol import numbers_of
from mailgate.mail.listing import page_json
from tests.integration.imap_servers import Pymap, running_pymap
from tests.servers.dovecot import Dovecot, running_dovecot

PASSWORD = "views-password"
BASE = datetime(2024, 3, 1, tzinfo=UTC)
_names = itertools.count()


def _message(n: int, hours: int, body: str | None = None) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"sender{n}@example.test"
    msg["To"] = "views@example.test"
    msg["Subject"] = f"View {n}"
    msg["Date"] = BASE + timedelta(hours=hours)
    msg["Message-ID"] = f"<view-{n}@example.test>"
    msg.set_content(body if body is not None else f"body {n}")
    return msg.as_bytes()


@pytest.fixture(scope="module")
def dovecot_server() -> Iterator[Dovecot]:
    if not Dovecot.available():
        pytest.skip("needs dovecot and root")
    with running_dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def pymap_server() -> Iterator[Pymap]:
    with running_pymap() as server:
        yield server


class Side:
    """Two connections to one fresh mailbox: ``client`` (whose view is tested) and
    ``other`` (another client changing the mailbox)."""

    def __init__(
        self, client: MailClient, other: MailClient, mailbox: str, sort: bool, server: str
    ):
        self.client, self.other, self.mailbox, self.sort = client, other, mailbox, sort
        self.server = server  # the fixture's parameter
        self.hours: dict[int, int] = {}  # UID → the Date header's hour offset

    async def add(self, n: int, hours: int) -> int:
        uid = await self.other.append(self.mailbox, _message(n, hours))
        assert uid is not None
        self.hours[uid] = hours
        return uid

    async def remove(self, uid: int) -> None:
        await self.other.expunge_uid(self.mailbox, uid)
        del self.hours[uid]

    def expected(self) -> list[int]:
        """Newest first by Date (all dates differ)."""
        return sorted(self.hours, key=lambda u: self.hours[u], reverse=True)

    async def server_sort(self) -> list[int] | None:
        """A fresh UID SORT by another connection, where the server has SORT."""
        if not self.sort:
            return None
        await self.other.select(self.mailbox)
        resp = await self.other.connection.command("UID SORT", "(REVERSE DATE)", "UTF-8", "ALL")
        return numbers_of(resp, "SORT").tolist()

    async def listed(self, page: int = 7) -> list[int]:
        """The client's whole view, page by page (the cached order serves every page)."""
        out: list[int] = []
        while True:
            got = await self.client.list_page(self.mailbox, offset=len(out), limit=page)
            out += [s.uid for s in got.summaries]
            if len(out) >= got.total or not got.summaries:
                assert got.total == len(out)
                return out

    async def check(self) -> None:
        view = await self.listed()
        assert view == self.expected()
        fresh = await self.server_sort()
        if fresh is not None:
            assert view == fresh


def _hide_sort(client: MailClient) -> None:
    conn = client.connection
    conn.capabilities = frozenset(c for c in conn.capabilities if not c.startswith("SORT"))


async def _pymap_client(server: Pymap) -> MailClient:
    conn = await ImapConnection.open(
        server.host, server.port, "starttls", server.client_context(), timeout=10
    )
    await conn.login(server.user, server.password)
    return MailClient(conn)


@pytest.fixture(params=["dovecot", "dovecot-without-sort", "pymap"])
async def side(request: pytest.FixtureRequest) -> AsyncIterator[Side]:
    mailbox = f"Views{next(_names)}"
    if request.param == "pymap":
        server: Pymap = request.getfixturevalue("pymap_server")
        client, other = await _pymap_client(server), await _pymap_client(server)
        sort = False
    else:
        dovecot: Dovecot = request.getfixturevalue("dovecot_server")
        user = f"views-{next(_names)}@example.test"
        dovecot.add_user(user, PASSWORD)
        client = await dovecot.open_client(user, PASSWORD)
        other = await dovecot.open_client(user, PASSWORD)
        if request.param == "dovecot-without-sort":
            _hide_sort(client)
        sort = True
    assert ("SORT" in client.connection.capabilities) == (request.param == "dovecot")
    await other.connection.command("CREATE", f'"{mailbox}"')
    yield Side(client, other, mailbox, sort, request.param)
    await client.logout()
    await other.logout()


def _record(conn: ImapConnection) -> list[str]:
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


async def test_a_mailbox_that_grows_and_shrinks_under_another_client(side: Side) -> None:
    # Arrival order is not date order: every third message is dated long ago.
    for n in range(24):
        await side.add(n, hours=n * 10 if n % 3 else -n * 100)
    await side.check()

    # Grows: new mail at the top, one restored from Trash in the middle, one very old.
    await side.add(100, hours=1_000)
    await side.add(101, hours=105)
    await side.add(102, hours=-10_000)
    await side.check()

    # Shrinks: the newest, one in the middle and the oldest go.
    ordered = side.expected()
    for uid in (ordered[0], ordered[len(ordered) // 2], ordered[-1]):
        await side.remove(uid)
    await side.check()

    # Both at once, between two lists.
    await side.remove(side.expected()[3])
    await side.add(103, hours=155)
    await side.check()

    # Emptied, then one message again.
    for uid in list(side.hours):
        await side.remove(uid)
    await side.check()
    await side.add(104, hours=5)
    await side.check()


async def test_flag_news_keeps_the_view_and_reaches_the_summaries(side: Side) -> None:
    uids = [await side.add(n, hours=(n * 37) % 17) for n in range(12)]
    await side.check()
    target = uids[4]
    await side.other.store_flags(side.mailbox, target, flagged=True, seen=True)
    sent = _record(side.client.connection)
    page = await side.client.list_page(side.mailbox, limit=50)
    assert [s.uid for s in page.summaries] == side.expected()
    assert {"\\Flagged", "\\Seen"} <= next(s.flags for s in page.summaries if s.uid == target)
    assert not {"SELECT", "EXAMINE", "UID SORT", "UID SEARCH"} & set(sent)

    # Our own flag change keeps the view too, and the next list shows it.
    await side.client.store_flags(side.mailbox, uids[7], flagged=True)
    sent.clear()
    page = await side.client.list_page(side.mailbox, limit=50)
    assert "\\Flagged" in next(s.flags for s in page.summaries if s.uid == uids[7])
    assert sent == ["NOOP"]


async def test_views_outlive_a_visit_to_another_mailbox_unless_it_changed(side: Side) -> None:
    """Back from another mailbox, a view is used again when the mailbox still holds the
    same messages (same UIDVALIDITY, UIDNEXT and EXISTS), and sorted again when not."""
    for n in range(15):
        await side.add(n, hours=(n * 7) % 15)
    await side.check()
    sent = _record(side.client.connection)
    await side.client.list_page("INBOX", limit=5)
    sent.clear()
    back = await side.client.list_page(side.mailbox, offset=5, limit=5)
    assert [s.uid for s in back.summaries] == side.expected()[5:10]
    assert not {"UID SORT", "UID SEARCH"} & set(sent)

    await side.client.list_page("INBOX", limit=5)
    await side.add(50, hours=-3)  # while the client is elsewhere
    sent.clear()
    await side.check()
    assert {"UID SORT", "UID SEARCH"} & set(sent)
    await side.client.list_page("INBOX", limit=5)
    await side.remove(side.expected()[2])
    await side.check()


async def test_first_mailbox_list_selects_inbox_once(dovecot_server: Dovecot) -> None:
    """A session's first mailbox list selects INBOX in the same round trip, so the list
    of INBOX that follows opens it no second time (no STATUS then SELECT of it)."""
    user = f"views-{next(_names)}@example.test"
    dovecot_server.add_user(user, PASSWORD)
    for n in range(5):
        dovecot_server.deliver(user, _message(n, hours=n))
    client = await dovecot_server.open_client(user, PASSWORD)
    sent = _record(client.connection)
    boxes = await client.mailboxes(subscriptions=True, prime_inbox=True)
    inbox = next(b for b in boxes if b.role == "inbox")
    assert (inbox.total, inbox.unread) == (5, 5)
    assert any(b.subscribed for b in boxes)
    page = await client.list_page("INBOX")
    assert len(page.summaries) == 5
    assert sent.count("SELECT") == 1 and "STATUS" not in sent
    assert sent[sent.index("SELECT") + 1 :] == ["LIST", "LSUB", "NOOP", "UID SORT", "UID FETCH"]
    # Not asked for (or something else selected): nothing is selected in passing.
    await client.select("Sent")
    sent.clear()
    await client.mailboxes(prime_inbox=True)
    assert sent == ["LIST"]
    await client.logout()


async def test_views_are_bounded_and_cost_four_bytes_a_message(
    side: Side, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(30):
        await side.add(n, hours=n * 7 % 30)
    await side.client.list_page(side.mailbox)
    assert side.client.view_bytes() == 4 * 30
    if not side.sort or "SORT" not in side.client.connection.capabilities:
        # One dictionary entry per message's date, a bounded few dozen bytes each.
        assert 0 < side.client.dates_bytes() <= 100 * 30
    await side.client.list_page(side.mailbox, sort="date_asc")
    assert side.client.view_bytes() == 4 * 60
    # A budget of 50 UIDs keeps the most recently used view only.
    monkeypatch.setattr(client_module, "VIEW_BUDGET", 4 * 50)
    first = await side.client.list_page(side.mailbox, query="body")
    assert first.total == 30 and side.client.view_bytes() == 4 * 30
    sent = _record(side.client.connection)
    again = await side.client.list_page(side.mailbox, query="body", offset=10)
    assert [s.uid for s in again.summaries] == side.expected()[10:30]
    assert not {"UID SORT", "UID SEARCH"} & set(sent)
    # A view larger than the whole budget is not kept: asked for again, it is sorted again.
    monkeypatch.setattr(client_module, "VIEW_BUDGET", 4 * 10)
    await side.client.list_page(side.mailbox, sort="date_asc")
    assert side.client.view_bytes() == 4 * 30  # the search's view, from before
    sent.clear()
    oldest = await side.client.list_page(side.mailbox, sort="date_asc", limit=3)
    assert [s.uid for s in oldest.summaries] == side.expected()[::-1][:3]
    assert {"UID SORT", "UID SEARCH"} & set(sent)


# -- conversations: kept like the sorted views ----------------------------------------------


def _post(n: int, hours: int, refs: tuple[int, ...] = ()) -> bytes:
    """Message ``n``, a reply (References) to the messages ``refs`` when given."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"sender{n}@example.test"
    msg["To"] = "views@example.test"
    msg["Subject"] = f"Re: Topic {refs[0]}" if refs else f"Topic {n}"
    msg["Date"] = BASE + timedelta(hours=hours)
    msg["Message-ID"] = f"<conv-{n}@example.test>"
    if refs:
        msg["References"] = " ".join(f"<conv-{r}@example.test>" for r in refs)
    msg.set_content(f"body {n}")
    return msg.as_bytes()


async def _add_post(side: Side, n: int, hours: int, refs: tuple[int, ...] = ()) -> int:
    uid = await side.other.append(side.mailbox, _post(n, hours, refs))
    assert uid is not None
    side.hours[uid] = hours
    return uid


def _hide_thread(client: MailClient) -> None:
    conn = client.connection
    conn.capabilities = frozenset(c for c in conn.capabilities if not c.startswith("THREAD"))


async def _check_conversations(side: Side) -> list[list[int]]:
    """The client's kept conversations, whole and page by page, against threads computed
    afresh by the other connection (its own THREAD, or RFC 5256 here on pymap), newest
    first by each one's newest message."""
    whole = await side.client.conversation_page(side.mailbox)
    paged: list[list[int]] = []
    while len(paged) < whole.total:
        page = await side.client.conversation_page(side.mailbox, offset=len(paged), limit=2)
        assert page.total == whole.total and page.groups
        paged += page.groups
    assert paged == whole.groups
    fresh = await side.other.threads(side.mailbox)
    expected = sorted(fresh.groups, key=lambda g: max(side.hours[u] for u in g), reverse=True)
    assert [sorted(g) for g in whole.groups] == [sorted(g) for g in expected]
    assert whole.total == len(expected)
    return whole.groups


async def test_conversations_stay_right_as_the_mailbox_grows_and_shrinks(side: Side) -> None:
    if "SORT" not in side.client.connection.capabilities:
        _hide_thread(side.client)  # Dovecot without SORT: without THREAD too
    # Three conversations, replies dated apart from their arrival.
    a = await _add_post(side, 1, hours=0)
    await _add_post(side, 2, hours=10)
    await _add_post(side, 3, hours=20)
    await _add_post(side, 4, hours=30, refs=(1,))
    await _add_post(side, 5, hours=25, refs=(2,))
    await _add_post(side, 6, hours=-50)  # imported: dated long ago, arrived last
    first = await _check_conversations(side)
    assert a in first[0]  # message 4 (hours 30) is the newest

    # The view is kept: asking again sends no SORT, THREAD or header FETCH.
    sent = _record(side.client.connection)
    again = await side.client.conversation_page(side.mailbox, offset=1, limit=2)
    assert again.groups == first[1:3]
    assert not {"UID SORT", "UID THREAD", "UID SEARCH", "SELECT"} & set(sent)

    # A reply arriving in the middle of the oldest conversation brings it to the top.
    reply = await _add_post(side, 7, hours=40, refs=(6,))
    grown = await _check_conversations(side)
    assert reply in grown[0] and len(grown[0]) == 2

    # A restored message dated in the middle, and one dated before everything.
    await _add_post(side, 8, hours=22, refs=(3,))
    await _add_post(side, 9, hours=-500)
    await _check_conversations(side)

    # Shrinks: that reply goes (its conversation falls back), then a whole conversation.
    await side.remove(reply)
    shrunk = await _check_conversations(side)
    assert all(reply not in g for g in shrunk)
    for uid in shrunk[0]:
        await side.remove(uid)
    await _check_conversations(side)

    # Both at once between two pages; then emptied.
    await side.remove(side.expected()[0])
    await _add_post(side, 10, hours=100, refs=(2, 5))
    await _check_conversations(side)
    for uid in list(side.hours):
        await side.remove(uid)
    assert (await _check_conversations(side)) == []


async def test_a_conversation_page_reads_the_headers_of_its_own_messages_only(
    dovecot_server: Dovecot,
) -> None:
    user = f"views-{next(_names)}@example.test"
    dovecot_server.add_user(user, PASSWORD)
    client = await dovecot_server.open_client(user, PASSWORD)
    try:
        for n in range(30):
            await client.append("INBOX", _post(n, hours=(n * 7) % 31))
        sent: list[tuple[str, ...]] = []
        command = client.connection.command

        async def spy(*parts: Any, **kw: Any) -> Any:
            sent.append(tuple(str(p) for p in parts))
            return await command(*parts, **kw)

        client.connection.command = spy  # type: ignore[method-assign]
        page = await client.conversation_page("INBOX", limit=3)
        assert page.total == 30 and len(page.groups) == 3
        heads = await client.heads("INBOX", [u for g in page.groups for u in g])
        assert len(heads) == 3
        threads = [p for p in sent if p[0] == "UID THREAD"]
        assert len(threads) == 1
        fetched = [p for p in sent if p[0] == "UID FETCH"]
        # one FETCH of the page's three messages' headers, none for the other 27
        assert len(fetched) == 1 and "HEADER.FIELDS" in fetched[0][2]
        assert fetched[0][1] == client_module.uid_set(u for g in page.groups for u in g)
    finally:
        await client.logout()


def _record_parts(conn: ImapConnection) -> list[tuple[str, ...]]:
    """Every command sent one at a time (``command`` runs through ``execute``)."""
    sent: list[tuple[str, ...]] = []
    execute = conn.execute

    async def spy(*parts: Any, **kw: Any) -> Any:
        sent.append(tuple(str(p) for p in parts))
        return await execute(*parts, **kw)

    conn.execute = spy  # type: ignore[method-assign]
    return sent


async def test_a_kept_view_is_patched_from_news_where_that_is_exact(side: Side) -> None:
    """New mail with the newest (or, oldest first, the oldest) date is put in front of the
    kept order and expunged UIDs are taken out, without sorting the mailbox again; a new
    message dated in the middle is sorted afresh. Checked against a fresh SORT each time."""
    for n in range(20):
        await side.add(n, hours=(n * 13) % 40)
    await side.check()
    oldest_first = await side.client.list_page(side.mailbox, sort="date_asc", limit=100)
    assert [s.uid for s in oldest_first.summaries] == side.expected()[::-1]
    patching = "SORT" in side.client.connection.capabilities  # else keys kept here
    sent = _record_parts(side.client.connection)
    whole_sorts = lambda: [p for p in sent if p[0] == "UID SORT" and p[-1] == "ALL"]  # noqa: E731

    await side.add(100, hours=500)  # the newest
    await side.add(101, hours=501)  # newer still
    await side.check()
    if patching:  # no full SORT: the view was patched
        assert not whole_sorts()
        assert any(p[0] == "UID SORT" and p[-2] == "UID" for p in sent)

    ordered = side.expected()
    for uid in (ordered[0], ordered[7], ordered[-1]):
        await side.remove(uid)
    sent.clear()
    await side.check()
    if patching:
        assert not [p for p in sent if p[0] == "UID SORT"]

    # The oldest-first view (kept since the last change): a message older than all goes
    # to its front while another is expunged.
    await side.client.list_page(side.mailbox, sort="date_asc", limit=100)
    await side.add(102, hours=-900)
    await side.remove(side.expected()[3])
    sent.clear()
    page = await side.client.list_page(side.mailbox, sort="date_asc", limit=100)
    assert [s.uid for s in page.summaries] == side.expected()[::-1]
    await side.check()
    if patching:
        assert not whole_sorts()

    # Dated in the middle: sorted afresh, still exact.
    await side.add(103, hours=20)
    sent.clear()
    await side.check()
    if patching:
        assert whole_sorts()


async def test_new_mail_under_another_client_needs_no_new_select(side: Side) -> None:
    """News of new messages alone (EXISTS) brings the kept selection up to date with one
    UID SEARCH from the old UIDNEXT on: no SELECT (whose cost grows with the mailbox). The
    view and the cached summaries stay exact; news of an expunge re-SELECTs unless the
    server named the UID (QRESYNC)."""
    for n in range(12):
        await side.add(n, hours=(n * 5) % 13)
    await side.check()
    sent = _record(side.client.connection)
    await side.add(100, hours=900)
    await side.add(101, hours=-900)
    page = await side.client.list_page(side.mailbox, limit=50)
    assert [s.uid for s in page.summaries] == side.expected()
    assert not {"SELECT", "EXAMINE"} & set(sent)
    assert "UID SEARCH" in sent

    # Flags seen in the summaries before are still right after the growth.
    await side.other.store_flags(side.mailbox, side.expected()[1], flagged=True)
    await side.add(102, hours=950)
    sent.clear()
    page = await side.client.list_page(side.mailbox, limit=50)
    assert [s.uid for s in page.summaries] == side.expected()
    assert "\\Flagged" in next(s.flags for s in page.summaries if s.uid == side.expected()[2])
    assert not {"SELECT", "EXAMINE"} & set(sent)

    await side.remove(side.expected()[4])
    sent.clear()
    await side.check()
    # An expunge: exact news only where QRESYNC names the UID (next test).
    assert bool({"SELECT", "EXAMINE"} & set(sent)) != side.client._qresync


async def test_expunges_named_by_qresync_need_no_new_select(side: Side) -> None:
    """Where the server has QRESYNC (Dovecot), mailgate enables it before its first
    selection, so another client's expunges arrive as UIDs (VANISHED): the kept selection
    and its views follow them without a SELECT and without asking for every UID (UID
    SEARCH ALL). Our own moves out of the mailbox count the same way. Without QRESYNC
    (pymap) an expunge still re-SELECTs. Exact against a fresh SORT after each step."""
    for n in range(16):
        await side.add(n, hours=(n * 11) % 29)
    await side.check()
    qresync = "QRESYNC" in side.client.connection.capabilities
    assert side.client._qresync == qresync
    sent = _record_parts(side.client.connection)

    await side.remove(side.expected()[0])
    await side.remove(side.expected()[5])
    await side.add(40, hours=300)
    sent.clear()
    await side.check()
    selects = [p for p in sent if p[0] in ("SELECT", "EXAMINE")]
    asked_all = [p for p in sent if p[0] == "UID SEARCH" and p[-1] == "ALL"]
    if qresync:
        assert not selects
        # Without SORT every list asks for the UIDs and orders them by keys kept here.
        assert not asked_all or "SORT" not in side.client.connection.capabilities
    else:
        assert selects

    # Our own move to another mailbox: the reply names the UID.
    moved = side.expected()[2]
    await side.client.move(side.mailbox, moved, "INBOX")
    del side.hours[moved]
    sent.clear()
    await side.check()
    if qresync:
        assert not [p for p in sent if p[0] in ("SELECT", "EXAMINE")]


async def test_a_kept_search_follows_new_mail_without_searching_the_mailbox_again(
    side: Side,
) -> None:
    """A search's kept order takes in new mail by asking the search of the new UIDs alone
    (a body search of a big mailbox takes seconds); with QRESYNC, expunged hits go without
    searching again. Exact against the server's own fresh search after each step."""
    if "SORT" not in side.client.connection.capabilities:
        pytest.skip("searches are patched where the server sorts")
    hits: dict[int, int] = {}

    async def add(n: int, hours: int, word: str) -> None:
        uid = await side.other.append(
            side.mailbox, _message(n, hours, f"This crate holds {word} number {n}.")
        )
        assert uid is not None
        if word == "kiwi":
            hits[uid] = hours

    async def searched() -> list[int]:
        page = await side.client.list_page(side.mailbox, query="kiwi", limit=100)
        return [s.uid for s in page.summaries]

    async def server_search() -> list[int]:
        await side.other.select(side.mailbox)
        resp = await side.other.connection.command(
            "UID SORT", "(REVERSE DATE)", "UTF-8", "BODY", '"kiwi"'
        )
        return numbers_of(resp, "SORT").tolist()

    for n in range(12):
        await add(n, hours=(n * 7) % 19, word="kiwi" if n % 2 else "plum")
    assert await searched() == sorted(hits, key=hits.__getitem__, reverse=True)
    sent = _record_parts(side.client.connection)
    whole = lambda: [p for p in sent if p[0] == "UID SORT" and "BODY" in p]  # noqa: E731

    await add(50, hours=400, word="kiwi")  # the newest, a hit
    await add(51, hours=500, word="plum")  # newer still, not a hit
    sent.clear()
    got = await searched()
    assert got == await server_search() == sorted(hits, key=hits.__getitem__, reverse=True)
    assert not whole()
    assert any(p[0] == "UID SEARCH" and "BODY" in p for p in sent)  # of the new UIDs only

    gone = got[1]
    await side.other.expunge_uid(side.mailbox, gone)
    del hits[gone]
    sent.clear()
    assert await searched() == await server_search()
    assert bool(whole()) != side.client._qresync


async def test_all_uids_come_as_ranges_where_the_server_offers_esearch(side: Side) -> None:
    """The newest messages of a mailbox (the Sent window of conversations) are read from
    all its UIDs: with ESEARCH (Dovecot) as ranges, ``UID SEARCH RETURN (ALL) ALL``, else
    as the plain list; the same UIDs either way, gaps and an empty mailbox included."""
    sent = _record_parts(side.client.connection)
    assert (await side.client.recent_heads(side.mailbox, 5))[1] == {}
    for n in range(12):
        await side.add(n, hours=n)
    for uid in sorted(side.hours)[3:6]:
        await side.remove(uid)  # UIDs 1:3,7:12 are left
    for count in (4, 9, 50):
        _, heads = await side.client.recent_heads(side.mailbox, count)
        assert sorted(heads) == sorted(side.hours)[-count:]
    # (Besides the searches for new UIDs after news: UID SEARCH UID <n>:*.)
    searches = [p for p in sent if p[0] == "UID SEARCH" and p[-1] == "ALL"]
    assert searches
    # Dovecot offers ESEARCH (with SORT hidden too); pymap does not.
    esearch = "ESEARCH" in side.client.connection.capabilities
    assert esearch == side.server.startswith("dovecot")
    if esearch:
        assert set(searches) == {("UID SEARCH", "RETURN", "(ALL)", "ALL")}
    else:
        assert set(searches) == {("UID SEARCH", "ALL")}


async def test_a_refused_esearch_falls_back_to_the_plain_search(side: Side) -> None:
    """A server that offers ESEARCH but refuses the form (fault injection: the command
    goes out with an unknown RETURN option, which Dovecot answers BAD) gets the plain
    UID SEARCH ALL, and the newest UIDs are right."""
    if side.server == "pymap":
        pytest.skip("pymap offers no ESEARCH")
    conn = side.client.connection
    execute = conn.execute
    refused: list[str] = []

    async def refusing(*parts: Any, **kw: Any) -> Any:
        if "RETURN" in parts:
            resp = await execute("UID SEARCH", "RETURN", "(NO-SUCH-OPTION)", "ALL")
            refused.append(resp.status)
            return resp
        return await execute(*parts, **kw)

    conn.execute = refusing  # type: ignore[method-assign]
    for n in range(6):
        await side.add(n, hours=n)
    _, heads = await side.client.recent_heads(side.mailbox, 4)
    assert sorted(heads) == sorted(side.hours)[-4:]
    assert refused == ["BAD"]


async def test_an_unchanged_page_is_sent_as_encoded_before(side: Side) -> None:
    """The list's JSON is made once per page (mailgate/mail/listing.py): the same bytes
    while the page is unchanged, and after every kind of change exactly what a
    connection without that memo makes of the same page."""
    for n in range(12):
        await side.add(n, hours=(n * 37) % 17)

    async def listed(offset: int = 0) -> bytes:
        side.other.list_memo = None  # the reference: made anew from its own summaries
        fresh = await page_json(
            side.other, side.mailbox, offset=offset, limit=5, sort="date_desc", query=None
        )
        ours = await page_json(
            side.client, side.mailbox, offset=offset, limit=5, sort="date_desc", query=None
        )
        assert json.loads(ours) == json.loads(fresh)
        return ours

    first = await listed()
    assert await listed() is first  # nothing changed: not made again
    assert json.loads(await listed(offset=5))["offset"] == 5
    assert json.loads(await listed()) == json.loads(first)

    # Another client flags the newest; we flag the second (flag news, no new selection).
    newest, second = side.expected()[:2]
    await side.other.store_flags(side.mailbox, newest, flagged=True)
    flagged = json.loads(await listed())["messages"]
    assert flagged[0]["flagged"] is True
    await side.client.store_flags(side.mailbox, second, seen=True)
    assert json.loads(await listed())["messages"][1]["seen"] is True

    # New mail at the top, then gone again.
    added = await side.add(99, hours=1_000)
    page = json.loads(await listed())
    assert page["total"] == 13
    uidvalidity = (await side.client.select(side.mailbox)).uidvalidity
    assert page["messages"][0]["id"] == message_id(side.mailbox, uidvalidity, added)
    await side.remove(added)
    page = json.loads(await listed())
    assert page["total"] == 12
    assert [m["flagged"] for m in page["messages"][:2]] == [True, False]
