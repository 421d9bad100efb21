"""Read receipts (issue 18): never automatic; sent only when asked, as an RFC 8098 MDN
built with the `email` package, and then flagged $MDNSent so it is not asked again.
Compose can request one and set a priority. Real aiosmtpd, Dovecot and pymap."""

from __future__ import annotations

import secrets
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from mailgate.testing.client import ApiClient
from mailgate.testing.logcheck import CANARIES

PYMAP = pytest.mark.parametrize("upstream", ["pymap"], indirect=True)


def _address(tag: str) -> str:
    address = f"{tag}-{secrets.token_hex(4)}@example.net"
    CANARIES.add(address, kind="address")
    return address


@pytest.fixture
def smtp_user(upstream: Any, sandbox: Any, user: tuple[str, str]) -> tuple[str, str]:
    if upstream.name != "pymap":
        sandbox.add_user(*user)
    return user


@pytest.fixture
async def api(logged_in: ApiClient, smtp_user: tuple[str, str]) -> ApiClient:
    return logged_in


def _to(sandbox: Any, address: str) -> list[Any]:
    return [m for m in list(sandbox.sandbox.smtp.received) if address in m.rcpt_tos]


def _asking(subject: str, receipt_to: str | None, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Curious Sender <{receipt_to or 'someone@example.net'}>"
    msg["To"] = "reader@example.test"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = message_id
    if receipt_to:
        msg["Disposition-Notification-To"] = f"Curious Sender <{receipt_to}>"
    msg.set_content("Did you read this?\n")
    return msg.as_bytes(policy=policy.SMTP)


async def _delivered(api: ApiClient, upstream: Any, email: str, raw: bytes, subject: str) -> str:
    upstream.deliver(email, raw)
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    listed = (await api.get(f"/api/mailboxes/{inbox['id']}/messages?limit=200")).json()
    (found,) = [m for m in listed["messages"] if m["subject"] == subject]
    return str(found["id"])


async def test_a_receipt_is_sent_only_when_asked_as_an_rfc8098_mdn(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    asker = _address("asker")
    subject = f"Receipt please {secrets.token_hex(4)}"
    original_id = f"<{secrets.token_hex(8)}@example.net>"
    mid = await _delivered(
        api, upstream, smtp_user[0], _asking(subject, asker, original_id), subject
    )

    # Opening it (not peeking) sends nothing; the view says what is asked.
    view = (await api.get(f"/api/messages/{mid}")).json()
    assert [a["email"] for a in view["receipt_to"]] == [asker]
    assert view["receipt_handled"] is False
    assert _to(sandbox, asker) == []

    resp = await api.post(f"/api/messages/{mid}/receipt", json={"action": "send"})
    assert resp.status == 200, resp
    assert resp.json() == {"receipt": "sent"}
    (mail,) = _to(sandbox, asker)
    assert mail.mail_from == smtp_user[0]
    mdn = message_from_bytes(mail.content, policy=policy.default)
    assert mdn.get_content_type() == "multipart/report"
    assert mdn.get_param("report-type") == "disposition-notification"
    assert str(mdn["Subject"]) == f"Read: {subject}"
    assert mdn["From"].addresses[0].addr_spec == smtp_user[0]
    assert str(mdn["In-Reply-To"]) == original_id
    human, report = list(mdn.iter_parts())
    assert human.get_content_type() == "text/plain"
    assert subject in human.get_content()
    assert report.get_content_type() == "message/disposition-notification"
    fields = report.get_payload()
    fields = fields if isinstance(fields, str) else str(fields[0])
    assert f"Final-Recipient: rfc822; {smtp_user[0]}" in fields
    assert f"Original-Message-ID: {original_id}" in fields
    assert "Disposition: manual-action/MDN-sent-manually; displayed" in fields
    assert "mailgate" not in mail.content.decode().lower()

    # Answered: the view says so, and a second answer is refused and sends nothing.
    view = (await api.get(f"/api/messages/{mid}?peek=1")).json()
    assert view["receipt_handled"] is True
    for action in ("send", "ignore"):
        resp = await api.post(f"/api/messages/{mid}/receipt", json={"action": action})
        assert resp.status == 400, resp
    assert len(_to(sandbox, asker)) == 1


async def test_ignoring_sends_nothing_and_is_not_asked_again(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    asker = _address("ignored")
    subject = f"Ignore me {secrets.token_hex(4)}"
    raw = _asking(subject, asker, f"<{secrets.token_hex(8)}@example.net>")
    mid = await _delivered(api, upstream, smtp_user[0], raw, subject)
    resp = await api.post(f"/api/messages/{mid}/receipt", json={"action": "ignore"})
    assert resp.status == 200, resp
    assert resp.json() == {"receipt": "ignored"}
    view = (await api.get(f"/api/messages/{mid}?peek=1")).json()
    assert view["receipt_handled"] is True
    assert _to(sandbox, asker) == []


@PYMAP
async def test_a_message_asking_for_nothing_gets_400_and_bad_bodies_too(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    subject = f"No receipt {secrets.token_hex(4)}"
    raw = _asking(subject, None, f"<{secrets.token_hex(8)}@example.net>")
    mid = await _delivered(api, upstream, smtp_user[0], raw, subject)
    view = (await api.get(f"/api/messages/{mid}?peek=1")).json()
    assert view["receipt_to"] == [] and view["receipt_handled"] is False
    before = len(sandbox.sandbox.smtp.received)
    for body in ({"action": "send"}, {"action": "maybe"}, {}, {"action": "send", "identity": "x"}):
        resp = await api.post(f"/api/messages/{mid}/receipt", json=body)
        assert resp.status == 400, (body, resp)
    assert len(sandbox.sandbox.smtp.received) == before


async def test_compose_requests_a_receipt_and_sets_the_priority(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    rcpt = _address("rcpt")
    sent = []
    for body in (
        {"request_receipt": True, "priority": "high"},
        {"priority": "low"},
        {},
    ):
        resp = await api.post("/api/send", json={"to": [rcpt], "subject": "s", "text": "t", **body})
        assert resp.status == 200, resp
        sent.append(resp.json()["message_id_header"])
    by_id = {
        str(m["Message-ID"]): m
        for m in (message_from_bytes(x.content, policy=policy.default) for x in _to(sandbox, rcpt))
    }
    high, low, plain = (by_id[i] for i in sent)
    assert str(high["Disposition-Notification-To"]) == f"<{smtp_user[0]}>"
    assert (str(high["X-Priority"]), str(high["Importance"])) == ("1 (Highest)", "high")
    assert low["Disposition-Notification-To"] is None
    assert (str(low["X-Priority"]), str(low["Importance"])) == ("5 (Lowest)", "low")
    assert plain["Disposition-Notification-To"] is None and plain["X-Priority"] is None
    resp = await api.post("/api/send", json={"to": [rcpt], "priority": "urgent"})
    assert resp.status == 400
    assert "priority" in resp.json()["error"]["message"]
