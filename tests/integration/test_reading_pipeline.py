"""The reading pipeline's promises other than hostile shapes (issue 15): a UTF-8 BOM
message opens with its headers on Dovecot, refusals log one line per rendering at a level
no message can raise, and the proxied document is cached like the plain one."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from mailgate.testing.client import ApiClient
from tests.integration.mailfactory import html_message

ON_DOVECOT = pytest.mark.parametrize("upstream", ["dovecot"], indirect=True)
CORPORA = Path(os.environ.get("MAILGATE_CORPORA_DIR", "/work/shared/corpora"))


async def _only_message(api: ApiClient) -> str:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    listing = (await api.get(f"/api/mailboxes/{inbox['id']}/messages")).json()
    assert len(listing["messages"]) == 1
    return listing["messages"][0]["id"]


@ON_DOVECOT
async def test_a_message_starting_with_a_byte_order_mark_opens_with_its_headers(
    upstream, logged_in, user
):
    path = CORPORA / "mime" / "mimekit" / "feedback-report.eml"
    if not path.is_file():
        pytest.skip("the MIME corpora are not available (MAILGATE_CORPORA_DIR)")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    upstream.deliver(user[0], raw)
    message = (await logged_in.get(f"/api/messages/{await _only_message(logged_in)}")).json()
    assert message["subject"] == "FW: Earn money"
    assert message["from"] == [{"name": "", "email": "abusedesk@example.com"}]
    assert message["date"] is not None
    assert "Subject:" not in (message["text"] or "")
    assert message["text"].startswith("This is an email abuse report")
    assert message["degraded"] is False and message["notice"] is None


@ON_DOVECOT
async def test_many_refused_images_log_one_line_at_info(upstream, logged_in, user, caplog):
    images = "".join(f'<img src="https://tracker{i}.example.com/p.gif">' for i in range(300))
    upstream.deliver(user[0], html_message(f"<p>hello</p>{images}"))
    message_id = await _only_message(logged_in)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        body = (await logged_in.get(f"/api/messages/{message_id}")).json()
        assert (await logged_in.get(f"/api/messages/{message_id}/body.html")).status == 200
        assert body["remote_content_blocked"] == 300
        reduced = [r for r in caplog.records if r.getMessage() == "message_reduced"]
        assert len(reduced) == 1
        assert reduced[0].levelno == logging.INFO
        assert reduced[0].fields == {"remote_blocked": 300}
        assert all(r.levelno <= logging.INFO for r in caplog.records)
        caplog.clear()
        assert (await logged_in.get(f"/api/messages/{message_id}?peek=1")).status == 200
        assert not [r for r in caplog.records if r.getMessage() == "message_reduced"]


@ON_DOVECOT
async def test_the_proxied_document_is_cached_too(upstream, make_mailgate, user):
    mailgate = make_mailgate(proxy={"enabled": True})
    upstream.deliver(user[0], html_message('<p>hi</p><img src="https://images.example.com/a.png">'))
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        message_id = await _only_message(api)
        assert (await api.get(f"/api/messages/{message_id}")).status == 200
        workers = mailgate.services.reading.workers
        first = await api.get(f"/api/messages/{message_id}/body.html?remote=allow")
        assert first.status == 200 and b"/api/proxy/image?" in first.body
        tasks = workers.counters["tasks"]
        again = await api.get(f"/api/messages/{message_id}/body.html?remote=allow")
        assert again.body == first.body  # the same signed URLs: nothing rendered again
        assert workers.counters["tasks"] == tasks
        plain = await api.get(f"/api/messages/{message_id}/body.html")
        assert b"/api/proxy/image?" not in plain.body and b"images.example.com" not in plain.body
