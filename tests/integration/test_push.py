"""Live new-mail push over GET /api/events (issue 7), against both real IMAP servers.

Mail arrives the way it would in life: submitted over SMTP to the sandbox's aiosmtpd
(TLS, AUTH), which delivers it locally, into pymap or into Dovecot's maildir.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from mailgate.mail.ids import mailbox_id
from mailgate.testing.client import ApiClient, EventStream
from mailgate.testing.clock import ManualClock

INBOX = mailbox_id("INBOX")


@pytest.fixture
def smtp_delivery(upstream: Any, sandbox: Any, request: pytest.FixtureRequest) -> Iterator[None]:
    """Make the sandbox SMTP deliver to Dovecot users too (as Dovecot's LDA would)."""
    if upstream.name != "dovecot":
        yield
        return
    dovecot = request.getfixturevalue("dovecot")
    smtp = sandbox.sandbox.smtp
    original = smtp.deliver_local

    async def deliver(rcpt: str, raw: bytes) -> bool:
        if rcpt in {email for email, _ in upstream.users}:
            await asyncio.to_thread(dovecot.deliver, rcpt, raw)
            return True
        return await original(rcpt, raw)

    smtp.deliver_local = deliver
    try:
        yield
    finally:
        smtp.deliver_local = original


async def _submit(sandbox: Any, rcpt: str, subject: str) -> None:
    """Send one message through the sandbox SMTP submission server, as another user."""
    sender = f"sender-{secrets.token_hex(3)}@example.test"
    password = secrets.token_urlsafe(12)
    sandbox.add_user(sender, password)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, rcpt, subject
    msg.set_content("Fresh mail.\n")
    settings = sandbox.settings()["smtp"]
    await aiosmtplib.send(
        msg,
        hostname=settings["host"],
        port=settings["port"],
        use_tls=settings["security"] == "tls",
        start_tls=settings["security"] == "starttls",
        username=sender,
        password=password,
        cert_bundle=str(sandbox.ca_file),
    )


async def _keepalives(stream: EventStream, count: int) -> None:
    """Read the stream until `count` more keep-alive comments came (in real time)."""
    seen = 0
    async with asyncio.timeout(5):
        while seen < count:
            raw = await stream.response.content.readline()
            assert raw, "the stream ended"
            if raw.startswith(b":"):
                seen += 1


async def _next_mailbox_event(stream: EventStream, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        item = await stream.next(max(0.01, deadline - time.monotonic()))
        assert item is not None, "the stream ended"
        if item[0] == "mailbox":
            return item[1]


@pytest.mark.parametrize("mode", ["idle", "poll"])
async def test_new_mail_is_pushed_within_seconds(
    make_mailgate, upstream, sandbox, smtp_delivery, mode
):
    push = {"idle": mode == "idle", "poll_interval_s": 1.0}
    mg = make_mailgate(push=push)
    email, password = upstream.new_user()
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        async with api.events() as stream:
            first = await _next_mailbox_event(stream, 5)
            assert first == {"mailbox": INBOX, "total": 0, "unread": 0}
            feed = next(iter(mg.services.push_hub._feeds.values()))
            assert feed.uses_idle is (mode == "idle")
            started = time.monotonic()
            await _submit(sandbox, email, "Pushed to you")
            event = await _next_mailbox_event(stream, 5)
            elapsed = time.monotonic() - started
            assert event == {"mailbox": INBOX, "total": 1, "unread": 1}
            assert elapsed < 5.0
            # The mailbox list agrees with what was pushed.
            boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
            inbox = next(b for b in boxes if b["id"] == INBOX)
            assert (inbox["total"], inbox["unread"]) == (1, 1)


async def test_idle_session_with_an_open_stream_is_still_wiped_on_time(make_mailgate, upstream):
    # Session time on a ManualClock, keep-alives in real time: keep-alives that went out
    # while the clock stood still must not count as activity.
    clock = ManualClock()
    mg = make_mailgate(
        clock=clock,
        session={"idle_timeout_s": 1200, "reap_interval_s": 1},
        push={"keepalive_s": 0.3},
    )
    email, password = upstream.new_user()
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        async with api.events() as stream:
            assert (await _next_mailbox_event(stream, 5))["mailbox"] == INBOX
            assert mg.services.push_hub.open_count() == 1
            await mg.advance(1000)
            await _keepalives(stream, 3)
            await mg.advance(199)
            assert len(await mg.services.store.lookups()) == 1
            await _keepalives(stream, 3)
            await mg.advance(1)  # 1200 s after the login, the last request
            assert await stream.next(5) is None, "the stream outlived its session"
        assert (await api.get("/api/session")).status == 401
        assert mg.services.sessions.counters.get("wipe_idle") == 1
        assert mg.services.push_hub.open_count() == 0
        resp = await api.get("/api/events")
        assert resp.status == 401 and resp.error_code == "auth_required"


async def test_tabs_share_one_upstream_connection_and_logout_ends_them(
    make_mailgate, upstream, sandbox, smtp_delivery
):
    mg = make_mailgate()
    email, password = upstream.new_user()
    hub = None
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        async with api.events() as one, api.events() as two:
            hub = mg.services.push_hub
            for stream in (one, two):
                assert (await _next_mailbox_event(stream, 5))["total"] == 0
            assert hub.open_count() == 1
            await _submit(sandbox, email, "For both tabs")
            for stream in (one, two):
                assert (await _next_mailbox_event(stream, 5))["total"] == 1
            assert (await api.logout()).status == 204
            for stream in (one, two):
                while (item := await stream.next(5)) is not None:
                    assert item[0] == "mailbox"
        assert hub.open_count() == 0


async def test_events_need_a_session(client):
    resp = await client.get("/api/events")
    assert resp.status == 401 and resp.error_code == "auth_required"


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_a_busy_stream_still_ends_when_another_instance_wipes(make_mailgate, upstream):
    """The store is looked at every keepalive_s however many events flow, so a session
    removed elsewhere (another instance's logout, Redis expiry) loses its stream."""
    from tests.integration.mailfactory import plain_message

    mg = make_mailgate(push={"idle": False, "poll_interval_s": 0.2, "keepalive_s": 1.0})
    email, password = upstream.new_user()
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        async with api.events() as stream:
            assert (await _next_mailbox_event(stream, 5))["total"] == 0
            (lookup,) = mg.call(mg.services.store.lookups())
            assert mg.call(mg.services.store.delete(lookup))  # as another instance would
            removed = time.monotonic()
            events = 0
            n = 0
            while True:
                n += 1
                await asyncio.to_thread(upstream.deliver, email, plain_message(n))
                try:
                    item = await stream.next(0.5)
                except TimeoutError:
                    item = ("quiet", None)
                if item is None:
                    break
                events += item[0] == "mailbox"
                assert time.monotonic() - removed < 3.0, "the stream outlived its session"
        assert events >= 1  # it was busy, not quiet, while it ran
        deadline = time.monotonic() + 2
        while mg.services.push_hub.open_count():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


async def test_news_taken_in_outside_idle_is_counted_before_idling(
    make_mailgate, upstream, sandbox, smtp_delivery
):
    """A message that arrives just after the feed's STATUS has counted, and that a reply
    before the next IDLE reports (servers attach news of the selected mailbox to any
    reply), would never be reported again by IDLE. So the feed counts again before it
    IDLEs. Fault injection: once, the feed's STATUS answers, then a message is delivered
    and a NOOP takes in its news, and the count from before it is returned. (Without the
    second count, no event with two messages comes: checked on both servers.)"""
    from tests.integration.mailfactory import plain_message

    mg = make_mailgate(push={"idle": True})
    email, password = upstream.new_user()
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        async with api.events() as stream:
            assert (await _next_mailbox_event(stream, 5))["total"] == 0
            feed = next(iter(mg.services.push_hub._feeds.values()))
            assert feed.uses_idle
            client = feed._client
            real_status = client.status
            armed = [True]

            async def status(path: str) -> tuple[int, int]:
                counts = await real_status(path)
                if armed:
                    armed.clear()
                    await asyncio.to_thread(upstream.deliver, email, plain_message(2))
                    client._note(await client.connection.command("NOOP"))
                return counts

            client.status = status
            await _submit(sandbox, email, "Wakes the IDLE")
            first = await _next_mailbox_event(stream, 5)
            assert (first["total"], first["unread"]) == (1, 1)
            assert not armed
            second = await _next_mailbox_event(stream, 5)
            assert (second["total"], second["unread"]) == (2, 2)


async def test_mail_between_the_first_count_and_the_first_selection_is_pushed(
    make_mailgate, upstream, monkeypatch
):
    """The feed counts (STATUS), then selects INBOX and IDLEs. A message that arrives in
    between is in the selection, so IDLE never reports it: the new selection counts as news
    and the feed counts again first. Fault injection: the feed's first count returns only
    once a message has been delivered after it was taken."""
    from mailgate.push.feed import SessionFeed
    from tests.integration.mailfactory import plain_message

    real_counts = SessionFeed._counts
    armed = [True]

    async def counts(self: SessionFeed) -> Any:
        taken = await real_counts(self)
        if armed:
            armed.clear()
            await asyncio.to_thread(upstream.deliver, email, plain_message(1))
        return taken

    monkeypatch.setattr(SessionFeed, "_counts", counts)
    mg = make_mailgate(push={"idle": True})
    email, password = upstream.new_user()
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        async with api.events() as stream:
            first = await _next_mailbox_event(stream, 5)
            assert first["total"] == 0 and not armed
            second = await _next_mailbox_event(stream, 5)
            assert (second["total"], second["unread"]) == (1, 1)
