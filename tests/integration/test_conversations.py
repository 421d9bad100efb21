"""Conversations: RFC 5256 threading checked against Dovecot's THREAD REFERENCES, and the
conversation API on Dovecot and pymap (docs/api.md, "Conversations")."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from mailgate.mail import conversations
from mailgate.mail.ids import conversation_id, decode_conversation_id
from mailgate.mail.imap import client as imap_client
from mailgate.mail.threads import groups, thread

BASE = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def _mail(
    n: int,
    subject: str,
    *,
    mid: str | None = None,
    refs: list[str] | None = None,
    in_reply_to: str | None = None,
    sender: str = "Bob Sender <bob.sender@example.net>",
    to: str = "user@example.test",
    minutes: int | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(BASE + timedelta(minutes=n if minutes is None else minutes))
    if mid is not None:
        msg["Message-ID"] = f"<{mid}>"
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    msg.set_content(f"Body of message {n}.\n")
    return msg.as_bytes()


def _corpus(seed: int) -> list[bytes]:
    """Hand-made cases of RFC 5256 plus random reply graphs (missing parents, loops,
    duplicate and absent ids, shared subjects)."""
    out = [
        _mail(1, "Lunch plans", mid="a@x"),
        _mail(2, "Re: Lunch plans", mid="b@x", refs=["a@x"]),
        _mail(3, "Re: Lunch plans", mid="c@x", refs=["a@x", "b@x"]),
        _mail(4, "Re: gone", mid="d@x", refs=["missing1@x"]),
        _mail(5, "Re: gone", mid="e@x", refs=["missing1@x"]),
        _mail(6, "Loop one", mid="f@x", refs=["g@x"]),
        _mail(7, "Loop two", mid="g@x", refs=["f@x"]),
        _mail(8, "Self", mid="h@x", refs=["h@x"]),
        _mail(9, "Duplicate", mid="dup@x"),
        _mail(10, "Duplicate again", mid="dup@x"),
        _mail(11, "No id at all"),
        _mail(12, "Re: Weekly report"),
        _mail(13, "Weekly report", mid="w@x"),
        _mail(14, "[list] Fwd: Weekly report (fwd)", mid="w2@x"),
        _mail(15, "", mid="empty1@x"),
        _mail(16, "", mid="empty2@x"),
        _mail(17, "Only in-reply-to", mid="i@x", in_reply_to="a@x"),
        _mail(18, "Middle missing", mid="j@x", refs=["a@x", "missing2@x"]),
    ]
    rng = random.Random(seed)
    subjects = ["Budget", "Re: Budget", "Trip", "Fwd: Trip", "Misc", "Re: Re: Misc", ""]
    ids = [f"r{i}@x" for i in range(60)]
    for i in range(60):
        earlier = ids[: i + 3]  # may name a few not delivered yet (or never)
        refs = rng.sample(earlier, k=rng.randint(0, min(4, len(earlier))))
        mid = ids[i] if rng.random() > 0.1 else rng.choice(ids[: i + 1])
        out.append(
            _mail(100 + i, rng.choice(subjects), mid=mid, refs=refs, minutes=rng.randint(0, 500))
        )
    rng.shuffle(out)
    return out


def _as_sets(found: list[list[int]]) -> set[frozenset[int]]:
    return {frozenset(g) for g in found}


@pytest.mark.parametrize("seed", [5, 11, 23])
async def test_our_threading_groups_as_dovecot_does(dovecot, seed):
    email, password = f"threads-{random.randrange(10**9)}@example.test", "pw-threads-1"
    dovecot.add_user(email, password)
    for raw in _corpus(seed):
        dovecot.deliver(email, raw)
    client = await dovecot.open_client(email, password)
    try:
        assert client.connection.has("THREAD=REFERENCES")
        served = await client.threads("INBOX")
        assert len(served.heads) == len(_corpus(seed))
        ours = groups(thread(sorted(served.heads.items())))
        assert _as_sets(ours) == _as_sets(served.groups)
        # the cases are not trivial: some threads are large, several stand alone
        sizes = sorted(len(g) for g in served.groups)
        assert sizes[-1] >= 5 and sizes[0] == 1
    finally:
        client.close()


async def test_threads_without_thread_support_come_from_our_algorithm(dovecot):
    email, password = f"threads-{random.randrange(10**9)}@example.test", "pw-threads-2"
    dovecot.add_user(email, password)
    for raw in _corpus(seed=9):
        dovecot.deliver(email, raw)
    served_client = await dovecot.open_client(email, password)
    own_client = await dovecot.open_client(email, password)
    try:
        served = await served_client.threads("INBOX")
        # the same connection, told the server cannot THREAD: the computed answer
        conn = own_client.connection
        conn.capabilities = frozenset(c for c in conn.capabilities if not c.startswith("THREAD"))
        assert not own_client.connection.has("THREAD=REFERENCES")
        own = await own_client.threads("INBOX")
        assert _as_sets(own.groups) == _as_sets(served.groups)
    finally:
        served_client.close()
        own_client.close()


# -- the API ------------------------------------------------------------------------------------


async def _box(api, role: str) -> dict:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    return next(b for b in boxes if b["role"] == role)


def _seed_thread(upstream, email: str) -> None:
    """A thread of 3 in the INBOX (the middle one read), the user's reply in Sent, and an
    unrelated older message."""
    me = f"Me Myself <{email}>"
    upstream.deliver(email, _mail(1, "Unrelated matter", mid="u1@x"), "INBOX", ("\\Seen",))
    upstream.deliver(email, _mail(10, "Holiday rota", mid="t1@x"))
    upstream.deliver(
        email,
        _mail(20, "Re: Holiday rota", mid="t2@x", refs=["t1@x"], sender="Ann <ann@example.net>"),
        "INBOX",
        ("\\Seen",),
    )
    upstream.deliver(
        email,
        _mail(40, "Re: Holiday rota", mid="t4@x", refs=["t1@x", "t2@x", "t3@x"]),
    )
    upstream.deliver(
        email,
        _mail(30, "Re: Holiday rota", mid="t3@x", refs=["t1@x", "t2@x"], sender=me),
        "Sent",
        ("\\Seen",),
    )
    upstream.deliver(email, _mail(50, "Not a reply", mid="s9@x", sender=me), "Sent", ("\\Seen",))


async def test_conversations_list_view_and_actions(upstream, logged_in, user):
    email, _ = user
    _seed_thread(upstream, email)
    api = logged_in
    inbox, sent, trash = await _box(api, "inbox"), await _box(api, "sent"), await _box(api, "trash")

    resp = await api.get(f"/api/mailboxes/{inbox['id']}/conversations")
    assert resp.status == 200, resp
    page = resp.json()
    assert page["total"] == 2 and page["offset"] == 0
    first, second = page["conversations"]
    assert first["subject"] == "Holiday rota"
    assert (first["count"], first["unread"]) == (4, 2)
    assert first["date"] == (BASE + timedelta(minutes=40)).isoformat()
    assert [p["email"] for p in first["participants"]] == [
        "bob.sender@example.net",
        "ann@example.net",
        email,
    ]
    assert (second["subject"], second["count"], second["unread"]) == ("Unrelated matter", 1, 0)
    assert first["has_attachments"] is False

    paged = (await api.get(f"/api/mailboxes/{inbox['id']}/conversations?limit=1&offset=1")).json()
    assert [c["id"] for c in paged["conversations"]] == [second["id"]]
    assert paged["total"] == 2

    view = (await api.get(f"/api/conversations/{first['id']}")).json()
    assert [m["subject"] for m in view["messages"]] == ["Holiday rota"] + ["Re: Holiday rota"] * 3
    assert [m["mailbox"] for m in view["messages"]] == [inbox["id"]] * 2 + [
        sent["id"],
        inbox["id"],
    ]
    assert [m["seen"] for m in view["messages"]] == [False, True, True, False]
    dates = [m["date"] for m in view["messages"]]
    assert dates == sorted(dates)

    # read: every message, the Sent reply included
    acted = await api.post(f"/api/conversations/{first['id']}/actions", json={"action": "read"})
    assert acted.status == 200, acted
    assert acted.json() == {"count": 4}
    view = (await api.get(f"/api/conversations/{first['id']}")).json()
    assert view["unread"] == 0 and all(m["seen"] for m in view["messages"])
    # the other conversation is untouched
    other = (await api.get(f"/api/conversations/{second['id']}")).json()
    assert [m["seen"] for m in other["messages"]] == [True]

    resp = await api.post(f"/api/conversations/{first['id']}/actions", json={"action": "flag"})
    assert resp.status == 200
    view = (await api.get(f"/api/conversations/{first['id']}")).json()
    assert all(m["flagged"] for m in view["messages"])
    resp = await api.post(f"/api/conversations/{first['id']}/actions", json={"action": "unread"})
    assert resp.status == 200
    view = (await api.get(f"/api/conversations/{first['id']}")).json()
    assert view["unread"] == 4

    # move: the INBOX messages go, the reply stays in Sent
    resp = await api.post(
        f"/api/conversations/{first['id']}/actions", json={"action": "move", "mailbox": trash["id"]}
    )
    assert resp.status == 200, resp
    assert resp.json() == {"count": 3}
    left = (await api.get(f"/api/mailboxes/{inbox['id']}/conversations")).json()
    assert [c["subject"] for c in left["conversations"]] == ["Unrelated matter"]
    in_trash = (await api.get(f"/api/mailboxes/{trash['id']}/conversations")).json()
    assert [(c["subject"], c["count"]) for c in in_trash["conversations"]] == [("Holiday rota", 4)]
    sent_page = (await api.get(f"/api/mailboxes/{sent['id']}/messages")).json()
    assert sorted(m["subject"] for m in sent_page["messages"]) == [
        "Not a reply",
        "Re: Holiday rota",
    ]
    assert (await api.get(f"/api/conversations/{first['id']}")).status == 404

    # delete in Trash: gone for good, the Sent reply (moved to Trash) as well
    trashed = in_trash["conversations"][0]["id"]
    resp = await api.post(f"/api/conversations/{trashed}/actions", json={"action": "delete"})
    assert resp.status == 200, resp
    in_trash = (await api.get(f"/api/mailboxes/{trash['id']}/conversations")).json()
    assert in_trash["total"] == 1  # the Sent reply, moved to Trash, is a conversation there
    resp = await api.post(
        f"/api/conversations/{in_trash['conversations'][0]['id']}/actions",
        json={"action": "delete"},
    )
    assert resp.status == 200
    assert (await api.get(f"/api/mailboxes/{trash['id']}/conversations")).json()["total"] == 0
    sent_page = (await api.get(f"/api/mailboxes/{sent['id']}/messages")).json()
    assert [m["subject"] for m in sent_page["messages"]] == ["Not a reply"]


async def test_conversation_errors_are_clear(upstream, logged_in, user):
    email, _ = user
    upstream.deliver(email, _mail(1, "Lonely message", mid="l1@x"))
    api = logged_in
    inbox = await _box(api, "inbox")
    conv = (await api.get(f"/api/mailboxes/{inbox['id']}/conversations")).json()["conversations"]
    cid = conv[0]["id"]
    ref = decode_conversation_id(cid)
    actions = f"/api/conversations/{cid}/actions"

    assert (await api.post(actions, json={"action": "explode"})).error_code == "bad_request"
    assert (await api.post(actions, json={"action": "move"})).error_code == "bad_request"
    assert (await api.post(actions, json={"action": "read", "x": 1})).status == 400
    stale = conversation_id(ref.mailbox, ref.uidvalidity + 1, ref.uid)
    assert (await api.get(f"/api/conversations/{stale}")).status == 409
    gone = conversation_id(ref.mailbox, ref.uidvalidity, ref.uid + 1000)
    assert (await api.get(f"/api/conversations/{gone}")).status == 404
    # a message id is not a conversation id
    first_message = (await api.get(f"/api/mailboxes/{inbox['id']}/messages")).json()["messages"][0]
    assert (await api.get(f"/api/conversations/{first_message['id']}")).status == 404
    assert (await api.get("/api/mailboxes/bm9uZQ/conversations")).status == 404
    assert (await api.get(f"/api/mailboxes/{inbox['id']}/conversations?limit=0")).status == 400
    resp = await api.post(actions, json={"action": "move", "mailbox": "bm9uZQ"})
    assert resp.status == 404


async def test_sent_replies_come_from_the_newest_window_only(dovecot, monkeypatch):
    email, password = f"threads-{random.randrange(10**9)}@example.test", "pw-threads-3"
    dovecot.add_user(email, password)
    dovecot.deliver(email, _mail(1, "Window test", mid="w1@x"))
    dovecot.deliver(email, _mail(2, "Re: Window test", mid="r1@x", refs=["w1@x"]), "Sent")
    dovecot.deliver(email, _mail(3, "Something else", mid="s2@x"), "Sent")
    dovecot.deliver(email, _mail(4, "Re: Window test", mid="r3@x", refs=["w1@x"]), "Sent")
    client = await dovecot.open_client(email, password)
    try:
        monkeypatch.setattr(conversations, "SENT_WINDOW", 2)
        _, (conv,) = await conversations._conversations(client, "INBOX")
        assert [(m.mailbox, m.date) for m in conv.members] == [
            ("INBOX", (BASE + timedelta(minutes=1)).timestamp()),
            ("Sent", (BASE + timedelta(minutes=4)).timestamp()),
        ]
        monkeypatch.setattr(conversations, "SENT_WINDOW", 3)
        _, (conv,) = await conversations._conversations(client, "INBOX")
        assert [m.mailbox for m in conv.members] == ["INBOX", "Sent", "Sent"]
    finally:
        client.close()


async def test_learned_headers_are_bounded_per_connection(dovecot, monkeypatch):
    email, password = f"threads-{random.randrange(10**9)}@example.test", "pw-threads-4"
    dovecot.add_user(email, password)
    for n in range(3):
        dovecot.deliver(email, _mail(n, f"Inbox {n}", mid=f"i{n}@x"))
        dovecot.deliver(email, _mail(n, f"Sent {n}", mid=f"s{n}@x"), "Sent")
    client = await dovecot.open_client(email, password)
    try:
        monkeypatch.setattr(imap_client, "_MAX_HEADS", 4)
        inbox = await client.threads("INBOX")
        assert len(inbox.heads) == 3
        assert [k[0] for k in client._heads] == ["INBOX"]
        _, sent = await client.recent_heads("Sent", 10)
        assert len(sent) == 3
        # past the bound, the other mailbox's headers were forgotten, never both kept
        assert [k[0] for k in client._heads] == ["Sent"]
        assert sum(len(v) for v in client._heads.values()) <= 4
        again = await client.threads("INBOX")
        assert again.groups == inbox.groups and again.heads == inbox.heads
    finally:
        client.close()


class _OnePool:
    """What ConversationService needs of the pool: run an operation on one client."""

    def __init__(self, client) -> None:
        self.client = client

    async def run(self, lookup, credentials, op):
        return await op(self.client)


async def test_a_page_with_sent_replies_opens_each_mailbox_once(dovecot):
    """The mailbox's summaries are read before Sent is selected (no second SELECT of a big
    INBOX), and the kept view serves the next page without SORT or THREAD."""
    email, password = f"threads-{random.randrange(10**9)}@example.test", "pw-threads-5"
    dovecot.add_user(email, password)
    _seed_thread(dovecot, email)
    client = await dovecot.open_client(email, password)
    try:
        await client.list_page("INBOX", limit=50)  # as the UI does first
        sent: list[str] = []
        command = client.connection.command

        async def spy(*parts, **kw):
            sent.append(" ".join(str(p) for p in parts[:2]))
            return await command(*parts, **kw)

        client.connection.command = spy
        service = conversations.ConversationService(_OnePool(client), lambda *a: None)
        page = await service.page("lookup", lambda: None, "INBOX", offset=0, limit=50)
        first, unrelated = page["conversations"]
        assert (first["subject"], first["count"], first["unread"]) == ("Holiday rota", 4, 2)
        assert unrelated["count"] == 1
        assert [c.split()[0] for c in sent if c.startswith(("SELECT", "EXAMINE"))] == ["EXAMINE"]
        assert sum(c.startswith("UID THREAD") for c in sent) == 1
        sent.clear()
        page = await service.page("lookup", lambda: None, "INBOX", offset=1, limit=1)
        assert [c["id"] for c in page["conversations"]] == [unrelated["id"]]
        assert not [c for c in sent if c.startswith(("UID THREAD", "UID SORT"))]
    finally:
        client.close()
