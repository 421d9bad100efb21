"""The message JSON and its frame document, asked for at once (the UI does so when the list
says `has_html`), share one open: one FETCH and one rendering, on Dovecot. Summaries say
`has_html` as opening the message will find it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import pytest

import mailgate.mail.reading.service as reading_service
from mailgate.mail.ids import decode_message_id, message_id
from mailgate.testing.client import ApiClient
from tests.integration.mailfactory import html_message, plain_message, with_attachment

ON_DOVECOT = pytest.mark.parametrize("upstream", ["dovecot"], indirect=True)
MARK = "shared-open-marker-7f3a"


class FetchSpy:
    """Counts the FETCHes of opening (fetch_for_reading) and holds each one for a moment,
    so that a second request surely arrives while the first is under way. The server
    runs on a loop of its own, in another thread: hence a thread's Event."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hold_s: float = 0.3):
        self.calls: list[bool] = []  # peek of each
        self.started = threading.Event()
        real = reading_service.fetch_for_reading

        async def spy(client: Any, ref: Any, *, peek: bool) -> Any:
            self.calls.append(peek)
            self.started.set()
            await asyncio.sleep(hold_s)
            return await real(client, ref, peek=peek)

        monkeypatch.setattr(reading_service, "fetch_for_reading", spy)


async def _inbox_messages(api: ApiClient) -> list[dict[str, Any]]:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    return (await api.get(f"/api/mailboxes/{inbox['id']}/messages")).json()["messages"]


async def _seen_in_a_new_session(mailgate: Any, user: tuple[str, str], mid: str) -> bool:
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as other:
        assert (await other.login(*user)).status == 201
        return next(m for m in await _inbox_messages(other) if m["id"] == mid)["seen"]


async def _second_while_first_fetches(
    spy: FetchSpy, first: Awaitable[Any], second: Callable[[], Awaitable[Any]]
) -> tuple[Any, Any]:
    first_task = asyncio.ensure_future(first)
    assert await asyncio.to_thread(spy.started.wait, 10)
    second_answer = await second()
    return await first_task, second_answer


@ON_DOVECOT
async def test_message_and_frame_at_once_share_one_fetch_and_mark_seen(
    upstream, mailgate, logged_in, user, monkeypatch
):
    upstream.deliver(user[0], html_message(f"<p>{MARK}</p>", subject="Shared open"))
    (summary,) = await _inbox_messages(logged_in)
    assert summary["has_html"] is True and summary["seen"] is False
    mid = summary["id"]
    spy = FetchSpy(monkeypatch)
    workers = mailgate.services.reading.workers
    tasks = workers.counters["tasks"]
    message, frame = await _second_while_first_fetches(
        spy,
        logged_in.get(f"/api/messages/{mid}"),
        lambda: logged_in.get(f"/api/messages/{mid}/body.html"),
    )
    assert message.status == 200 and frame.status == 200
    assert message.json()["subject"] == "Shared open" and message.json()["has_html"] is True
    assert MARK.encode() in frame.body
    assert spy.calls == [False]  # one FETCH, by the message itself (not a peek)
    assert workers.counters["tasks"] - tasks == 1  # one rendering (with the document)
    assert await _seen_in_a_new_session(mailgate, user, mid)


@ON_DOVECOT
async def test_a_message_request_joining_the_frames_open_still_marks_seen(
    upstream, mailgate, logged_in, user, monkeypatch
):
    upstream.deliver(user[0], html_message(f"<p>{MARK}</p>", subject="Frame first"))
    (summary,) = await _inbox_messages(logged_in)
    mid = summary["id"]
    spy = FetchSpy(monkeypatch)
    frame, message = await _second_while_first_fetches(
        spy,
        logged_in.get(f"/api/messages/{mid}/body.html"),
        lambda: logged_in.get(f"/api/messages/{mid}"),
    )
    assert frame.status == 200 and MARK.encode() in frame.body
    assert message.status == 200 and message.json()["subject"] == "Frame first"
    assert message.json()["seen"] is True
    assert spy.calls == [True]  # the frame's peek, shared
    assert await _seen_in_a_new_session(mailgate, user, mid)


@ON_DOVECOT
async def test_a_shared_open_of_a_missing_message_is_404_for_both(
    upstream, logged_in, user, monkeypatch
):
    upstream.deliver(user[0], html_message("<p>there</p>"))
    (summary,) = await _inbox_messages(logged_in)
    ref = decode_message_id(summary["id"])
    gone = message_id(ref.mailbox, ref.uidvalidity, ref.uid + 1000)
    spy = FetchSpy(monkeypatch)
    message, frame = await _second_while_first_fetches(
        spy,
        logged_in.get(f"/api/messages/{gone}"),
        lambda: logged_in.get(f"/api/messages/{gone}/body.html"),
    )
    assert message.status == 404 and frame.status == 404
    assert message.error_code == frame.error_code == "not_found"
    assert spy.calls == [False]


def _html_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Carol <carol@example.org>"
    msg["To"] = "user@example.test"
    msg["Subject"] = "HTML attached"
    msg.set_content("See the page.\n")
    msg.add_attachment(b"<p>page</p>", maintype="text", subtype="html", filename="page.html")
    return msg.as_bytes()


@ON_DOVECOT
async def test_summaries_say_has_html_as_opening_finds_it(upstream, logged_in, user):
    upstream.deliver(user[0], plain_message(1, subject="Plain"))
    upstream.deliver(user[0], html_message("<p>hi</p>", subject="Alternative"))
    upstream.deliver(user[0], _html_attachment())
    upstream.deliver(user[0], with_attachment(b"%PDF-1.4", "a.pdf", "application/pdf"))
    summaries = await _inbox_messages(logged_in)
    assert len(summaries) == 4
    for summary in summaries:
        opened = (await logged_in.get(f"/api/messages/{summary['id']}?peek=1")).json()
        assert summary["has_html"] is opened["has_html"], summary["subject"]
    by_subject = {s["subject"]: s["has_html"] for s in summaries}
    assert by_subject == {
        "Plain": False,
        "Alternative": True,
        "HTML attached": False,
        "With attachment": False,
    }
