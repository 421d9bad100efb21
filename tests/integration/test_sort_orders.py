"""Sort orders (issue 17): by date, arrival, sender, subject and size, each either way, on
Dovecot with its SORT, on the same Dovecot with SORT hidden (mailgate sorts), on pymap (no
SORT at all), and through the API."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from mailgate.mail.imap import ImapConnection, MailClient
from mailgate.mail.imap.client import SORTS
from mailgate.mail.imap.protocol import LiteralArg
from mailgate.testing.client import ApiClient
from tests.integration.imap_servers import running_pymap
from tests.servers.dovecot import Dovecot

BASE = datetime(2024, 1, 1, tzinfo=UTC)

# name: (From, Subject, day of the Date header, day of arrival, body length, To)
MESSAGES: dict[str, tuple[str, str, int, int, int, str]] = {
    "A": ("Zed <zed@example.test>", "Re: banana", 3, 31, 3000, "Mia <mia@example.test>"),
    "B": ("anna@example.test", "apple", 1, 33, 1000, "lou@example.test"),
    "C": ("Carl <carl@example.test>", "Fwd: Cherry", 2, 32, 2000, "Kim <kim@example.test>"),
    "D": ('"bob" <bob@example.test>', "date", 4, 30, 500, '"Nora" <nora@example.test>'),
}
# Delivered in this order (UID order), which is none of the sort orders.
DELIVERY = ("C", "A", "D", "B")
EXPECTED = {
    "date_asc": "BCAD",
    "arrival_asc": "DACB",
    # Display name, else address, case-insensitive: anna, bob, Carl, Zed.
    "from_asc": "BDCA",
    # The same for the first recipient: Kim, lou, Mia, Nora.
    "to_asc": "CBAD",
    # Base subjects (RFC 5256: without Re: and Fwd:): apple, banana, cherry, date.
    "subject_asc": "BACD",
    "size_asc": "DBCA",
}


def _message(name: str, tag: str) -> bytes:
    sender, subject, day, _, length, to = MESSAGES[name]
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = f"{to}, carol@example.test"
    msg["Subject"] = subject
    msg["Date"] = BASE + timedelta(days=day)
    msg["Message-ID"] = f"<{name}.{tag}@example.test>"
    msg["X-Name"] = name
    msg.set_content("x" * length)
    return msg.as_bytes()


def _expected(sort: str) -> str:
    kind, _, direction = sort.partition("_")
    ascending = EXPECTED[f"{kind}_asc"]
    return ascending if direction == "asc" else ascending[::-1]


async def _order(client: MailClient, path: str, sort: Any, names: dict[int, str]) -> str:
    page = await client.list_page(path, sort=sort, limit=50)
    return "".join(names[s.uid] for s in page.summaries)


async def _names(client: MailClient, path: str) -> dict[int, str]:
    """UID → name, from the Message-ID each message carries."""
    page = await client.list_page(path, limit=50)
    return {s.uid: (s.envelope.message_id or "<?")[1] for s in page.summaries}


async def test_every_order_on_dovecot_with_and_without_sort(dovecot: Dovecot) -> None:
    user, password = f"sort-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    dovecot.add_user(user, password)
    tag = secrets.token_hex(3)
    for name in DELIVERY:
        arrival = BASE + timedelta(days=MESSAGES[name][3])
        dovecot.deliver(user, _message(name, tag), internaldate=arrival)
    # Two messages alike in every key but their UID: ties go by UID, either direction.
    for twin in ("T1", "T2"):
        raw = _message("B", tag).replace(b"<B.", f"<{twin[1]}.".encode())
        dovecot.deliver(user, raw, internaldate=BASE + timedelta(days=33))
    client = await dovecot.open_client(user, password)
    try:
        assert client.connection.has("SORT") and client.connection.has("SORT=DISPLAY")
        names = await _names(client, "INBOX")
        assert sorted(names.values()) == ["1", "2", "A", "B", "C", "D"]
        by_server = {sort: await _order(client, "INBOX", sort, names) for sort in SORTS}
        # The server's own SORT gives the orders expected (the twins after B's, in UID order).
        for sort in SORTS:
            assert by_server[sort].replace("1", "").replace("2", "") == _expected(sort), sort
            assert by_server[sort].index("1") < by_server[sort].index("2"), sort
    finally:
        await client.logout()

    # The same mailbox, the server's SORT hidden: mailgate sorts, and agrees exactly.
    client = await dovecot.open_client(user, password)
    try:
        caps = client.connection.capabilities
        client.connection.capabilities = caps - {"SORT", "SORT=DISPLAY", "ESORT"}
        for sort in SORTS:
            assert await _order(client, "INBOX", sort, names) == by_server[sort], sort
    finally:
        await client.logout()


async def test_every_order_on_pymap_which_has_no_sort() -> None:
    with running_pymap() as server:
        conn = await ImapConnection.open(
            server.host, server.port, "starttls", server.client_context(), timeout=10
        )
        await conn.login(server.user, server.password)
        client = MailClient(conn)
        try:
            assert not conn.has("SORT")
            await conn.command("CREATE", '"Sorted"')
            tag = secrets.token_hex(3)
            for name in DELIVERY:  # APPEND with the arrival time as its date-time
                arrival = BASE + timedelta(days=MESSAGES[name][3])
                stamp = arrival.strftime('"%d-%b-%Y %H:%M:%S +0000"')
                resp = await conn.command(
                    "APPEND", '"Sorted"', stamp, LiteralArg(_message(name, tag))
                )
                assert resp.status == "OK", resp
            names = await _names(client, "Sorted")
            for sort in SORTS:
                got = await _order(client, "Sorted", sort, names)
                assert got == _expected(sort), sort
            # Keys are learned once per message: a second pass fetches no headers.
            sent: list[str] = []
            command = conn.command

            async def spy(*parts: Any, **kw: Any) -> Any:
                sent.append(" ".join(str(p) for p in parts))
                return await command(*parts, **kw)

            conn.command = spy  # type: ignore[method-assign]
            await client.append("Sorted", _message("A", "again"))
            await _order(client, "Sorted", "subject_asc", await _names(client, "Sorted"))
            subject_fetches = [c for c in sent if "HEADER.FIELDS (SUBJECT)" in c]
            assert len(subject_fetches) == 1 and "," not in subject_fetches[0].split()[2]
        finally:
            await client.logout()


async def _inbox(api: ApiClient) -> str:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    return str(next(b["id"] for b in boxes if b["role"] == "inbox"))


async def test_the_api_sorts_every_way_and_refuses_an_unknown_order(
    upstream: Any, logged_in: ApiClient, user: tuple[str, str]
) -> None:
    tag = secrets.token_hex(3)
    for name in sorted(MESSAGES):  # arrival: in name order on both servers
        upstream.deliver(user[0], _message(name, tag))
    inbox = await _inbox(logged_in)
    for sort in SORTS:
        resp = await logged_in.get(f"/api/mailboxes/{inbox}/messages?sort={sort}")
        assert resp.status == 200, resp
        subjects = [m["subject"] for m in resp.json()["messages"]]
        got = "".join(next(n for n, v in MESSAGES.items() if v[1] == s) for s in subjects)
        if sort.startswith("arrival"):
            continue  # the servers take the Date header as arrival here; see above
        assert got == _expected(sort), (sort, upstream.name)
    for bad in ("sender", "date", "DATE_DESC", "size_up"):
        resp = await logged_in.get(f"/api/mailboxes/{inbox}/messages?sort={bad}")
        assert resp.status == 400, resp
        assert "sort" in resp.json()["error"]["message"]
