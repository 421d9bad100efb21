"""Forwarding as an attachment (issue 18): POST /api/messages/{id}/attachment keeps the
message, as the mail server stores it, as an upload; sent, it arrives (at aiosmtpd, and
in Sent on Dovecot and pymap) as a message/rfc822 part equal byte for byte to the
original. A message that is not 7-bit clean goes as an .eml file instead (RFC 2046 allows
no base64 for message/rfc822), its bytes unchanged as well."""

from __future__ import annotations

import secrets
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest

from mailgate.mail.ids import decode_mailbox_id, message_id
from mailgate.testing.client import ApiClient


@pytest.fixture
async def api(
    logged_in: ApiClient, upstream: Any, sandbox: Any, user: tuple[str, str]
) -> ApiClient:
    if upstream.name != "pymap":
        sandbox.add_user(*user)
    return logged_in


def _original(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Olga Original <olga@example.net>"
    msg["To"] = "someone@example.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{secrets.token_hex(8)}@example.net>"
    msg.set_content("Hello from the original.\n")
    msg.add_attachment(b"%PDF-1.4 tiny", maintype="application", subtype="pdf", filename="a.pdf")
    return msg.as_bytes(policy=policy.SMTP)


def _eight_bit(subject: str) -> bytes:
    return (
        "From: Olga Original <olga@example.net>\r\nTo: someone@example.test\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{secrets.token_hex(8)}@example.net>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n"
    ).encode()


async def _box(api: ApiClient, role: str) -> dict[str, Any]:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    return next(b for b in boxes if b["role"] == role)


async def _find(api: ApiClient, role: str, subject: str) -> dict[str, Any]:
    box = await _box(api, role)
    listed = (await api.get(f"/api/mailboxes/{box['id']}/messages?limit=200")).json()
    (found,) = [m for m in listed["messages"] if m["subject"] == subject]
    return found


def _rfc822_body(raw: bytes) -> bytes:
    """The body of the one message/rfc822 part, cut from the raw bytes themselves."""
    msg = message_from_bytes(raw, policy=policy.default)
    boundary = msg.get_boundary()
    assert boundary
    segments = raw.split(b"\r\n--" + boundary.encode())
    (segment,) = [s for s in segments if b"Content-Type: message/rfc822" in s.split(b"\r\n\r\n")[0]]
    return segment.split(b"\r\n\r\n", 1)[1]


async def _send(api: ApiClient, subject: str, upload_id: str) -> dict[str, Any]:
    resp = await api.post(
        "/api/send",
        json={
            "to": ["dora@example.net"],
            "subject": subject,
            "text": "See the message below.",
            "attachments": [upload_id],
        },
    )
    assert resp.status == 200, resp
    return resp.json()


async def test_a_message_forwarded_as_attachment_arrives_as_it_was(
    upstream: Any, sandbox: Any, api: ApiClient, user: tuple[str, str]
) -> None:
    subject = f"Original {secrets.token_hex(4)}"
    upstream.deliver(user[0], _original(subject))
    inbox_copy = await _find(api, "inbox", subject)
    original = (await api.get(f"/api/messages/{inbox_copy['id']}/raw")).body
    assert b"Hello from the original." in original

    resp = await api.post(f"/api/messages/{inbox_copy['id']}/attachment")
    assert resp.status == 201, resp
    upload = resp.json()
    assert upload["content_type"] == "message/rfc822"
    assert upload["filename"] == f"{subject}.eml"
    assert upload["size"] == len(original)
    # Forwarding does not mark the message read.
    assert not (await _find(api, "inbox", subject))["seen"]

    fwd_subject = f"Fwd: {subject} {secrets.token_hex(2)}"
    sent = await _send(api, fwd_subject, upload["id"])
    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Message-ID"]
        == sent["message_id_header"]
    ]
    assert _rfc822_body(mail.content) == original
    parsed = message_from_bytes(mail.content, policy=policy.default)
    (part,) = list(parsed.iter_attachments())
    assert part.get_content_type() == "message/rfc822"
    assert part["Content-Transfer-Encoding"] == "7bit"
    assert part.get_filename() == f"{subject}.eml"
    assert part.get_content()["Subject"] == subject

    # The Sent copy on the IMAP server (Dovecot or pymap) holds the same part.
    copy = await _find(api, "sent", fwd_subject)
    raw_copy = (await api.get(f"/api/messages/{copy['id']}/raw")).body
    assert _rfc822_body(raw_copy) == original


async def test_a_message_with_8bit_content_goes_as_an_eml_file(
    upstream: Any, sandbox: Any, api: ApiClient, user: tuple[str, str]
) -> None:
    subject = f"Umlaute {secrets.token_hex(4)}"
    upstream.deliver(user[0], _eight_bit(subject))
    inbox_copy = await _find(api, "inbox", subject)
    original = (await api.get(f"/api/messages/{inbox_copy['id']}/raw")).body
    assert "Grüße".encode() in original  # 8-bit as stored
    resp = await api.post(f"/api/messages/{inbox_copy['id']}/attachment")
    assert resp.status == 201, resp
    upload = resp.json()
    assert upload["content_type"] == "application/octet-stream"
    assert upload["filename"] == f"{subject}.eml"
    assert upload["size"] == len(original)
    # One upload only: the 7bit attempt left nothing behind.
    listed = (await api.get("/api/uploads")).json()["uploads"]
    assert [u["id"] for u in listed] == [upload["id"]]

    sent = await _send(api, f"Fwd: {subject}", upload["id"])
    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Message-ID"]
        == sent["message_id_header"]
    ]
    assert mail.content.isascii()  # the outgoing message stays 7-bit
    (part,) = list(message_from_bytes(mail.content, policy=policy.default).iter_attachments())
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_content() == original


async def test_an_uploaded_message_file_is_sent_as_a_file(
    upstream: Any, sandbox: Any, api: ApiClient
) -> None:
    # Only messages read from the mail server go out verbatim as message/rfc822.
    form = aiohttp.FormData()
    form.add_field("file", b"not\na message\x00", filename="x.eml", content_type="message/rfc822")
    resp = await api.post("/api/uploads", data=form)
    assert resp.status == 201, resp
    assert resp.json()["content_type"] == "application/octet-stream"


async def test_attaching_a_message_that_is_gone_is_404(api: ApiClient) -> None:
    inbox = await _box(api, "inbox")
    resp = await api.get(f"/api/mailboxes/{inbox['id']}/messages?limit=1")
    assert resp.status == 200
    path = decode_mailbox_id(inbox["id"])
    state_id = message_id(path, 1, 999_999)
    resp = await api.post(f"/api/messages/{state_id}/attachment")
    assert resp.status in (404, 409), resp


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_a_message_larger_than_the_upload_limit_is_refused_and_leaves_nothing(
    upstream: Any, make_mailgate: Any, user: tuple[str, str]
) -> None:
    mg = make_mailgate(limits={"upload_max_bytes": 4_000, "session_upload_max_bytes": 8_000})
    small, big = f"Small {secrets.token_hex(4)}", f"Big {secrets.token_hex(4)}"
    upstream.deliver(user[0], _original(small))
    msg = EmailMessage()
    msg["From"] = "olga@example.net"
    msg["Subject"] = big
    msg.set_content("A long line of text.\n" * 400)  # about 8 KB
    upstream.deliver(user[0], msg.as_bytes(policy=policy.SMTP))
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        resp = await api.post(f"/api/messages/{(await _find(api, 'inbox', big))['id']}/attachment")
        assert resp.status == 413, resp
        assert (await api.get("/api/uploads")).json()["uploads"] == []
        # The limit is the upload limit, not a refusal of all: a small one fits.
        resp = await api.post(
            f"/api/messages/{(await _find(api, 'inbox', small))['id']}/attachment"
        )
        assert resp.status == 201, resp


async def test_a_draft_holding_a_forwarded_message_resumes_with_it(
    upstream: Any, sandbox: Any, api: ApiClient, user: tuple[str, str]
) -> None:
    subject = f"Kept {secrets.token_hex(4)}"
    upstream.deliver(user[0], _original(subject))
    inbox_copy = await _find(api, "inbox", subject)
    original = (await api.get(f"/api/messages/{inbox_copy['id']}/raw")).body
    upload = (await api.post(f"/api/messages/{inbox_copy['id']}/attachment")).json()
    draft_subject = f"Fwd: {subject} draft"
    saved = await api.post(
        "/api/drafts", json={"subject": draft_subject, "attachments": [upload["id"]]}
    )
    assert saved.status == 201, saved
    resp = await api.get(f"/api/messages/{saved.json()['id']}/draft")
    assert resp.status == 200, resp
    (copy,) = resp.json()["attachments"]
    assert copy["content_type"] == "message/rfc822"
    assert copy["filename"] == f"{subject}.eml"
    sent = await _send(api, draft_subject, copy["id"])
    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Message-ID"]
        == sent["message_id_header"]
    ]
    assert _rfc822_body(mail.content) == original
