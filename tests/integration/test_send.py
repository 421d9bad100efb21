"""Sending and drafts through the API (issue 4): real SMTP (the sandbox's aiosmtpd with TLS
and AUTH) and both real IMAP servers for the Sent and Drafts copies."""

from __future__ import annotations

import os
import secrets
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from mailgate.mail.ids import decode_message_id, message_id
from mailgate.testing.client import ApiClient
from mailgate.testing.servers import free_port

# Headers a message built by mailgate may carry; anything else could identify the client.
ALLOWED_HEADERS = {
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


def _rcpt(tag: str = "rcpt") -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.net"


@pytest.fixture
def smtp_user(upstream: Any, sandbox: Any, user: tuple[str, str]) -> tuple[str, str]:
    """The logged-in user, also known to the sandbox SMTP server (which always does
    the submission, also when the mailboxes live in Dovecot)."""
    if upstream.name != "pymap":
        sandbox.add_user(*user)
    return user


@pytest.fixture
async def api(logged_in: ApiClient, smtp_user: tuple[str, str]) -> ApiClient:
    return logged_in


def _received(sandbox: Any, message_id_header: str) -> Any:
    """The one envelope the sandbox SMTP accepted with this Message-ID (None if none)."""
    found = [
        mail
        for mail in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(mail.content, policy=policy.default)["Message-ID"]
        == message_id_header
    ]
    assert len(found) <= 1, "the same message was submitted twice"
    return found[0] if found else None


def _received_with_subject(sandbox: Any, subject: str) -> list[Any]:
    return [
        mail
        for mail in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(mail.content, policy=policy.default)["Subject"] == subject
    ]


async def _upload(api: ApiClient, data: bytes, filename: str, content_type: str) -> dict:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    resp = await api.post("/api/uploads", data=form)
    assert resp.status == 201, resp
    return resp.json()


async def _box(api: ApiClient, role: str) -> dict:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    return next(b for b in boxes if b["role"] == role)


async def _messages(api: ApiClient, box_id: str) -> list[dict]:
    resp = await api.get(f"/api/mailboxes/{box_id}/messages?limit=200")
    assert resp.status == 200, resp
    return resp.json()["messages"]


async def _find(api: ApiClient, role: str, subject: str) -> list[dict]:
    box = await _box(api, role)
    return [m for m in await _messages(api, box["id"]) if m["subject"] == subject]


async def _uploads(api: ApiClient) -> set[str]:
    resp = await api.get("/api/uploads")
    assert resp.status == 200, resp
    return {u["id"] for u in resp.json()["uploads"]}


def _text(msg: Any) -> str:
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _parent(message_id_header: str, references: str | None, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Parent Sender <parent@example.net>"
    msg["To"] = "someone@example.test"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = message_id_header
    if references:
        msg["References"] = references
    msg.set_content("the parent\n")
    return msg.as_bytes(policy=policy.SMTP)


# -- sending ----------------------------------------------------------------------------------


async def test_send_with_attachment_arrives_intact_and_is_saved_to_sent(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    payload = os.urandom(150_000) + b"\r\n.\r\n.line\n"  # dot-stuffing and CRLF survive
    upload = await _upload(api, payload, "Bericht ü.bin", "application/octet-stream")
    subject = f"Quarterly ✓ {secrets.token_hex(4)}"
    to, cc, bcc = _rcpt("to"), _rcpt("cc"), _rcpt("bcc")
    resp = await api.post(
        "/api/send",
        json={
            "to": [{"name": "Dr. Zoë", "email": to}],
            "cc": [f"Carl <{cc}>"],
            "bcc": [bcc],
            "subject": subject,
            "text": "Grüße\n.\nend\n",
            "html": "<p>Grüße</p>",
            "attachments": [upload["id"]],
        },
    )
    assert resp.status == 200, resp
    body = resp.json()
    sent_box = await _box(api, "sent")
    assert body["saved_to"] == sent_box["id"]
    assert "warning" not in body

    mail = _received(sandbox, body["message_id_header"])
    assert mail is not None
    assert mail.mail_from == smtp_user[0]
    assert sorted(mail.rcpt_tos) == sorted([to, cc, bcc])
    assert mail.auth_login == smtp_user[0]
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].addr_spec == smtp_user[0]
    assert msg["To"].addresses[0].display_name == "Dr. Zoë"
    assert msg["Bcc"] is None and bcc.encode() not in mail.content
    assert _text(msg) == "Grüße\n.\nend\n"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == upload["filename"]
    assert attachment.get_content() == payload

    # No header that names the client, its browser or this software.
    assert {k.lower() for k in msg} <= ALLOWED_HEADERS
    assert b"mailgate" not in mail.content.lower()
    assert b"127.0.0.1" not in mail.content and b"aiohttp" not in mail.content.lower()

    # The Sent copy is there, read, and keeps the Bcc for the sender.
    (copy,) = await _find(api, "sent", subject)
    assert copy["seen"] is True and copy["has_attachments"] is True
    view = (await api.get(f"/api/messages/{copy['id']}?peek=1")).json()
    assert view["message_id_header"] == body["message_id_header"]
    assert [a["email"] for a in view["bcc"]] == [bcc]

    # The upload stays until the UI deletes it (documented choice).
    assert upload["id"] in await _uploads(api)


async def test_display_name_from_preferences_signs_the_from_header(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    name = "Zoë \u2028Example"  # a line separator is dropped, never a header break
    resp = await api.request("PUT", "/api/preferences", json={"display_name": name})
    assert resp.status == 200, resp
    subject = f"Named {secrets.token_hex(4)}"
    resp = await api.post("/api/send", json={"to": [_rcpt()], "subject": subject, "text": "x"})
    assert resp.status == 200, resp
    mail = _received(sandbox, resp.json()["message_id_header"])
    (sender,) = message_from_bytes(mail.content, policy=policy.default)["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Zoë Example", smtp_user[0])
    assert mail.mail_from == smtp_user[0]  # the envelope is the account, whatever the name
    resp = await api.post("/api/drafts", json={"to": [], "subject": subject + " draft"})
    assert resp.status == 201, resp
    (draft,) = await _find(api, "drafts", subject + " draft")
    view = (await api.get(f"/api/messages/{draft['id']}?peek=1")).json()
    assert view["from"] == [{"name": "Zoë Example", "email": smtp_user[0]}]


async def test_save_sent_false_stores_no_copy(upstream: Any, sandbox: Any, api: ApiClient) -> None:
    subject = f"No copy {secrets.token_hex(4)}"
    resp = await api.post(
        "/api/send", json={"to": [_rcpt()], "subject": subject, "text": "x", "save_sent": False}
    )
    assert resp.status == 200, resp
    assert resp.json()["saved_to"] is None
    assert _received(sandbox, resp.json()["message_id_header"]) is not None
    assert await _find(api, "sent", subject) == []


async def test_reply_is_threaded_and_parent_marked_answered(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    parent_subject = f"Parent {secrets.token_hex(4)}"
    parent_mid = f"<parent.{secrets.token_hex(6)}@example.net>"
    root_mid = f"<root.{secrets.token_hex(6)}@example.net>"
    upstream.deliver(smtp_user[0], _parent(parent_mid, root_mid, parent_subject))
    (parent,) = await _find(api, "inbox", parent_subject)
    assert parent["answered"] is False

    resp = await api.post(
        "/api/send",
        json={
            "to": ["parent@example.net"],
            "subject": f"Re: {parent_subject}",
            "text": "my reply",
            "in_reply_to": parent["id"],
        },
    )
    assert resp.status == 200, resp
    mail = _received(sandbox, resp.json()["message_id_header"])
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert str(msg["In-Reply-To"]) == parent_mid
    assert str(msg["References"]).split() == [root_mid, parent_mid]

    (after,) = await _find(api, "inbox", parent_subject)
    assert after["answered"] is True
    view = (await api.get(f"/api/messages/{parent['id']}?peek=1")).json()
    assert view["answered"] is True


async def test_forward_marks_the_original_forwarded_and_a_stale_one_changes_nothing(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    subject = f"Original {secrets.token_hex(4)}"
    other = f"Bystander {secrets.token_hex(4)}"
    upstream.deliver(smtp_user[0], _parent(f"<o.{secrets.token_hex(6)}@x.test>", None, subject))
    upstream.deliver(smtp_user[0], _parent(f"<b.{secrets.token_hex(6)}@x.test>", None, other))
    (original,) = await _find(api, "inbox", subject)
    assert original["forwarded"] is False
    # Opened first, so a cached view would be stale after the send.
    assert (await api.get(f"/api/messages/{original['id']}?peek=1")).json()["forwarded"] is False

    resp = await api.post(
        "/api/send",
        json={"to": [_rcpt()], "subject": f"Fwd: {subject}", "forward_of": original["id"]},
    )
    assert resp.status == 200, resp
    assert "warning" not in resp.json()
    (after,) = await _find(api, "inbox", subject)
    assert after["forwarded"] is True and after["answered"] is False
    view = (await api.get(f"/api/messages/{original['id']}?peek=1")).json()
    assert view["forwarded"] is True
    (bystander,) = await _find(api, "inbox", other)
    assert bystander["forwarded"] is False

    # A renumbered id is best effort like \Answered: the forward still goes out.
    ref = decode_message_id(bystander["id"])
    stale = message_id(ref.mailbox, ref.uidvalidity + 1, ref.uid)
    resp = await api.post(
        "/api/send", json={"to": [_rcpt()], "subject": "Fwd: stale", "forward_of": stale}
    )
    assert resp.status == 200, resp
    (bystander,) = await _find(api, "inbox", other)
    assert bystander["forwarded"] is False
    resp = await api.post(
        "/api/send", json={"to": [_rcpt()], "subject": "Fwd: none", "forward_of": 5}
    )
    assert resp.status == 400, resp


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_reply_to_stale_or_missing_parent_sends_nothing(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    subject = f"Parent {secrets.token_hex(4)}"
    upstream.deliver(smtp_user[0], _parent(f"<p.{secrets.token_hex(4)}@x.test>", None, subject))
    (parent,) = await _find(api, "inbox", subject)
    ref = decode_message_id(parent["id"])
    stale = message_id(ref.mailbox, ref.uidvalidity + 1, ref.uid)
    missing = message_id(ref.mailbox, ref.uidvalidity, ref.uid + 1000)
    reply_subject = f"Re: {subject}"
    for parent_id, status in ((stale, 409), (missing, 404), ("not-an-id", 404)):
        resp = await api.post(
            "/api/send",
            json={"to": [_rcpt()], "subject": reply_subject, "in_reply_to": parent_id},
        )
        assert resp.status == status, resp
    assert _received_with_subject(sandbox, reply_subject) == []


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_sent_but_not_saved_is_a_warning_not_an_error(
    sandbox: Any, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailgate.mail.imap.client import MailClient
    from mailgate.mail.imap.errors import ImapNoError

    async def refuse_append(self: Any, *args: Any, **kwargs: Any) -> None:
        raise ImapNoError("injected")  # fault injection: the APPEND to Sent fails

    monkeypatch.setattr(MailClient, "append_stream", refuse_append)
    subject = f"Unsaved {secrets.token_hex(4)}"
    resp = await api.post("/api/send", json={"to": [_rcpt()], "subject": subject})
    assert resp.status == 200, resp
    assert resp.json()["saved_to"] is None
    assert resp.json()["warning"] == "sent_but_not_saved"
    assert _received(sandbox, resp.json()["message_id_header"]) is not None  # sent once
    monkeypatch.undo()
    assert await _find(api, "sent", subject) == []


# -- failures ---------------------------------------------------------------------------------


async def test_smtp_down_is_502_and_upload_kept(
    upstream: Any, sandbox: Any, make_mailgate: Any, smtp_user: tuple[str, str]
) -> None:
    closed = free_port()  # nothing listens there
    running = make_mailgate(smtp={"port": closed})
    async with ApiClient(running.url, running.client_ssl()) as api:
        assert (await api.login(*smtp_user)).status == 201
        upload = await _upload(api, b"keep me", "keep.txt", "text/plain")
        subject = f"Down {secrets.token_hex(4)}"
        resp = await api.post(
            "/api/send",
            json={"to": [_rcpt()], "subject": subject, "attachments": [upload["id"]]},
        )
        assert resp.status == 502 and resp.error_code == "upstream_unavailable", resp
        assert upload["id"] in await _uploads(api)
        assert await _find(api, "sent", subject) == []


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_sec_41_smtp_without_tls_is_refused_and_upload_kept(
    upstream: Any, sandbox: Any, make_mailgate: Any, smtp_user: tuple[str, str], security: str
) -> None:
    import trustme

    from tests.integration.smtp_servers import run_smtp_server

    with run_smtp_server("plain", trustme.CA()) as plain:
        running = make_mailgate(
            smtp={"host": "localhost", "port": plain.port, "security": security}
        )
        async with ApiClient(running.url, running.client_ssl()) as api:
            assert (await api.login(*smtp_user)).status == 201
            upload = await _upload(api, b"keep me too", "keep.txt", "text/plain")
            resp = await api.post(
                "/api/send",
                json={"to": [_rcpt()], "subject": "no tls", "attachments": [upload["id"]]},
            )
            assert resp.status == 502 and resp.error_code == "upstream_tls_failed", resp
            assert upload["id"] in await _uploads(api)
        raw = bytes(plain.recorder.raw)
    assert b"AUTH" not in raw.upper()
    assert smtp_user[1].encode() not in raw
    assert plain.recorder.messages == []


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_refused_recipient_is_502_upstream_rejected(
    upstream: Any, sandbox: Any, api: ApiClient
) -> None:
    refused = _rcpt("refused")
    sandbox.sandbox.smtp.refuse(refused)
    subject = f"Refused {secrets.token_hex(4)}"
    resp = await api.post(
        "/api/send", json={"to": [_rcpt(), refused], "subject": subject, "text": "x"}
    )
    assert resp.status == 502 and resp.error_code == "upstream_rejected", resp
    assert refused.encode() not in resp.body  # the reason is sanitized
    assert _received_with_subject(sandbox, subject) == []
    assert await _find(api, "sent", subject) == []


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_unknown_upload_is_400_naming_attachments(sandbox: Any, api: ApiClient) -> None:
    subject = f"Unknown {secrets.token_hex(4)}"
    resp = await api.post(
        "/api/send", json={"to": [_rcpt()], "subject": subject, "attachments": ["nope"]}
    )
    assert resp.status == 400, resp
    assert "attachments" in resp.json()["error"]["message"]
    assert _received_with_subject(sandbox, subject) == []


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_sec_46_other_sessions_upload_cannot_be_attached(
    upstream: Any, sandbox: Any, mailgate: Any, api: ApiClient
) -> None:
    other_user = upstream.new_user()
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as other:
        assert (await other.login(*other_user)).status == 201
        theirs = await _upload(other, b"not yours", "secret.txt", "text/plain")
    resp = await api.post("/api/send", json={"to": [_rcpt()], "attachments": [theirs["id"]]})
    assert resp.status == 400, resp


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_send_without_csrf_token_is_403(sandbox: Any, api: ApiClient) -> None:
    subject = f"Csrf {secrets.token_hex(4)}"
    resp = await api.request(
        "POST", "/api/send", json={"to": [_rcpt()], "subject": subject}, csrf=False
    )
    assert resp.status == 403 and resp.error_code == "csrf_failed", resp
    resp = await api.request("POST", "/api/drafts", json={"subject": subject}, csrf=False)
    assert resp.status == 403 and resp.error_code == "csrf_failed", resp
    assert _received_with_subject(sandbox, subject) == []


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_sec_65_header_injection_through_json_is_refused(
    sandbox: Any, api: ApiClient
) -> None:
    evil = _rcpt("evil")
    subject = f"Inject {secrets.token_hex(4)}"
    bad_bodies = [
        {"to": [_rcpt()], "subject": f"{subject}\r\nBcc: {evil}"},
        {"to": [_rcpt()], "subject": f"{subject}\nX-Injected: 1"},
        {"to": [f"Eve\r\nBcc: {evil} <{_rcpt()}>"], "subject": subject},
        {"to": [{"name": f"Eve\r\nBcc: {evil}", "email": _rcpt()}], "subject": subject},
        {"to": [f"{_rcpt()}\r\nBcc: {evil}"], "subject": subject},
        {"to": [{"name": "Eve", "email": f"{_rcpt()}\nBcc: {evil}"}], "subject": subject},
        {"to": [f"{_rcpt()}, {evil}"], "subject": subject},  # one string, one address
    ]
    for body in bad_bodies:
        resp = await api.post("/api/send", json=body)
        assert resp.status == 400, (body, resp)

    # A file name with CR/LF: sanitized on upload, so no header can come of it.
    # aiohttp's client refuses CR/LF in a filename, so the part is written by hand, with
    # the name in RFC 2231 form (which aiohttp's server decodes).
    name = quote(f"a\r\nX-Injected: 1\r\nBcc: {evil}\r\n.txt", safe="")
    boundary = secrets.token_hex(8)
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''{name}\r\nContent-Type: text/plain\r\n\r\ndata\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    resp = await api.post(
        "/api/uploads",
        data=multipart,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert resp.status == 201, resp
    upload = resp.json()
    assert "\r" not in upload["filename"] and "\n" not in upload["filename"]
    resp = await api.post(
        "/api/send", json={"to": [_rcpt()], "subject": subject, "attachments": [upload["id"]]}
    )
    if resp.status == 200:
        mail = _received(sandbox, resp.json()["message_id_header"])
        assert evil not in mail.rcpt_tos
        msg = message_from_bytes(mail.content, policy=policy.default)
        for part in msg.walk():
            assert "X-Injected" not in part and "Bcc" not in part
        assert b"\nX-Injected" not in mail.content and b"\nBcc" not in mail.content
    else:
        assert resp.status == 400, resp
    assert all(evil not in m.rcpt_tos for m in sandbox.sandbox.smtp.received)


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_sec_66_compose_body_is_strictly_validated(sandbox: Any, api: ApiClient) -> None:
    subject = f"Strict {secrets.token_hex(4)}"
    ok = {"to": [_rcpt()], "subject": subject}
    bad_bodies = [
        {**ok, "reply_to": "x@example.net"},  # unknown field
        {**ok, "to": _rcpt()},  # not a list
        {**ok, "subject": 5},
        {**ok, "text": ["a"]},
        {**ok, "html": 1},
        {**ok, "save_sent": "yes"},
        {**ok, "attachments": "id"},
        {**ok, "attachments": [f"u{i}" for i in range(51)]},
        {**ok, "to": [{"email": _rcpt(), "extra": 1}]},
        {**ok, "to": [_rcpt() for _ in range(101)]},
        {**ok, "subject": "x" * 999},
        {**ok, "thread": {"in_reply_to": "<a@b>", "references": "<a@b>"}},
        {**ok, "thread": {"in_reply_to": "<a@b>", "references": [], "x": 1}},
        {**ok, "thread": {"references": [f"<{i}@x>" for i in range(21)]}},
        {"subject": subject, "text": "nobody to send to"},
        {**ok, "to": ["not an address"]},
        {**ok, "text": "lone \ud800 surrogate"},
        {**ok, "to": [{"name": "\udcff", "email": _rcpt()}]},
    ]
    for body in bad_bodies:
        resp = await api.post("/api/send", json=body)
        assert resp.status == 400, (body, resp)
    big = await api.post("/api/send", json={**ok, "text": "x" * (1024 * 1024 + 1)})
    assert big.status == 413, big
    assert _received_with_subject(sandbox, subject) == []


# -- drafts -----------------------------------------------------------------------------------


async def _raw(api: ApiClient, message_id_: str) -> bytes:
    resp = await api.get(f"/api/messages/{quote(message_id_)}/raw")
    assert resp.status == 200, resp
    return resp.body


async def test_drafts_are_saved_and_replaced(upstream: Any, sandbox: Any, api: ApiClient) -> None:
    subject = f"Draft {secrets.token_hex(4)}"
    upload = await _upload(api, b"draft attachment", "notes.txt", "text/plain")
    first = await api.post(
        "/api/drafts",
        json={"subject": subject, "text": "first", "attachments": [upload["id"]]},
    )
    assert first.status == 201, first
    first_id = first.json()["id"]
    assert first_id is not None  # both servers have UIDPLUS
    (listed,) = await _find(api, "drafts", subject)
    assert listed["id"] == first_id and listed["seen"] is True
    raw = await _raw(api, first_id)
    msg = message_from_bytes(raw, policy=policy.default)
    # A draft without recipients has no To/Cc/Bcc, and no stand-in address leaks.
    assert msg["To"] is None and msg["Bcc"] is None and b"draft.invalid" not in raw
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content() == "draft attachment"

    bcc = _rcpt("bcc")
    second = await api.post(
        "/api/drafts",
        json={
            "to": [_rcpt()],
            "bcc": [bcc],
            "subject": subject,
            "text": "second",
            "save_sent": True,  # the UI sends it to both endpoints
            "replaces": first_id,
        },
    )
    assert second.status == 201, second
    second_id = second.json()["id"]
    assert second_id and second_id != first_id and "warning" not in second.json()
    (listed,) = await _find(api, "drafts", subject)
    assert listed["id"] == second_id
    assert (await api.get(f"/api/messages/{first_id}?peek=1")).status == 404
    second_raw = message_from_bytes(await _raw(api, second_id), policy=policy.default)
    assert second_raw["Bcc"].addresses[0].addr_spec == bcc  # the draft keeps its Bcc
    assert _text(second_raw) == "second\n"
    # Saving a draft sends nothing.
    assert _received_with_subject(sandbox, subject) == []


async def test_saving_a_draft_twice_keeps_one_copy(upstream: Any, api: ApiClient) -> None:
    """Each save names the previous copy in `replaces`: Drafts holds the latest one only,
    and a save that fails before the APPEND leaves the previous copy in place."""
    subject = f"Twice {secrets.token_hex(4)}"
    first = await api.post("/api/drafts", json={"subject": subject, "text": "one"})
    assert first.status == 201, first
    draft_id = first.json()["id"]
    for text in ("two", "three"):
        resp = await api.post(
            "/api/drafts", json={"subject": subject, "text": text, "replaces": draft_id}
        )
        assert resp.status == 201, resp
        assert "warning" not in resp.json(), resp
        draft_id = resp.json()["id"]
        (listed,) = await _find(api, "drafts", subject)
        assert listed["id"] == draft_id
    # A save that cannot be built (an upload that does not exist) is refused before the
    # APPEND, and the copy it would have replaced stays.
    bad = await api.post(
        "/api/drafts",
        json={"subject": subject, "text": "four", "attachments": ["x" * 20], "replaces": draft_id},
    )
    assert bad.status == 400, bad
    (listed,) = await _find(api, "drafts", subject)
    assert listed["id"] == draft_id
    assert _text(message_from_bytes(await _raw(api, draft_id), policy=policy.default)) == "three\n"


async def test_replacing_a_draft_that_is_gone_saves_the_new_one(
    upstream: Any, api: ApiClient
) -> None:
    """`replaces` naming a Drafts message that no longer exists (removed by another client,
    or by an earlier save) is ignored: the new draft is saved and nothing else removed."""
    subject = f"Gone {secrets.token_hex(4)}"
    keep = await api.post("/api/drafts", json={"subject": subject + " other", "text": "keep"})
    first = await api.post("/api/drafts", json={"subject": subject, "text": "one"})
    assert keep.status == 201 and first.status == 201, (keep, first)
    first_id = first.json()["id"]
    assert (await api.request("DELETE", f"/api/messages/{quote(first_id)}")).status == 204
    # Deleting from Drafts moved it to Trash: it is no longer in Drafts.
    assert await _find(api, "drafts", subject) == []
    resp = await api.post(
        "/api/drafts", json={"subject": subject, "text": "again", "replaces": first_id}
    )
    assert resp.status == 201, resp
    again_id = resp.json()["id"]
    assert again_id not in (None, first_id) and "warning" not in resp.json()
    (listed,) = await _find(api, "drafts", subject)
    assert listed["id"] == again_id
    # A UID the Drafts mailbox never had: the same.
    ref = decode_message_id(again_id)
    never = message_id(ref.mailbox, ref.uidvalidity, ref.uid + 1000)
    resp = await api.post(
        "/api/drafts", json={"subject": subject + " new", "text": "n", "replaces": never}
    )
    assert resp.status == 201, resp
    assert len(await _find(api, "drafts", subject + " new")) == 1
    assert [m["id"] for m in await _find(api, "drafts", subject)] == [again_id]
    assert len(await _find(api, "drafts", subject + " other")) == 1  # untouched


async def test_a_reply_draft_is_taken_up_again_and_sent(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    """GET …/draft gives back every compose field and copies the attachment into the
    session's uploads; sending with `replaces` and `thread` keeps the thread and removes
    the draft once the message went out."""
    parent_header = f"<p.{secrets.token_hex(4)}@x.test>"
    root = f"<r.{secrets.token_hex(4)}@x.test>"
    parent_subject = f"Parent {secrets.token_hex(4)}"
    upstream.deliver(smtp_user[0], _parent(parent_header, root, parent_subject))
    (parent,) = await _find(api, "inbox", parent_subject)
    payload = os.urandom(70_000) + b"\r\n.\r\n"
    upload = await _upload(api, payload, "Plan ü.bin", "application/octet-stream")
    subject = f"Re: {parent_subject}"
    to, cc, bcc = _rcpt("to"), _rcpt("cc"), _rcpt("bcc")
    saved = await api.post(
        "/api/drafts",
        json={
            "to": [{"name": "Dr. Zoë", "email": to}],
            "cc": [cc],
            "bcc": [bcc],
            "subject": subject,
            "text": "Grüße,\nhalf written\n",
            "attachments": [upload["id"]],
            "in_reply_to": parent["id"],
        },
    )
    assert saved.status == 201, saved
    draft_id = saved.json()["id"]
    # The form that saved it is gone: so is its upload.
    assert (await api.request("DELETE", f"/api/uploads/{upload['id']}")).status == 204

    resp = await api.get(f"/api/messages/{quote(draft_id)}/draft")
    assert resp.status == 200, resp
    draft = resp.json()
    assert draft["id"] == draft_id
    assert draft["to"] == [{"name": "Dr. Zoë", "email": to}]
    assert draft["cc"] == [{"name": "", "email": cc}]
    assert draft["bcc"] == [{"name": "", "email": bcc}]
    assert draft["subject"] == subject
    assert draft["text"] == "Grüße,\nhalf written\n"
    assert draft["thread"] == {
        "in_reply_to": parent_header,
        "references": [root, parent_header],
        "forwarded": None,
    }
    (copy,) = draft["attachments"]
    assert copy["filename"] == upload["filename"] and copy["size"] == len(payload)
    assert copy["content_type"] == "application/octet-stream"
    assert copy["id"] != upload["id"] and await _uploads(api) == {copy["id"]}

    # Saving it again keeps the thread (given as `thread` now) and replaces it.
    again = await api.post(
        "/api/drafts",
        json={
            "to": draft["to"],
            "cc": draft["cc"],
            "bcc": draft["bcc"],
            "subject": subject,
            "text": draft["text"] + "more\n",
            "attachments": [copy["id"]],
            "thread": draft["thread"],
            "replaces": draft_id,
        },
    )
    assert again.status == 201, again
    draft_id = again.json()["id"]
    (listed,) = await _find(api, "drafts", subject)
    assert listed["id"] == draft_id
    resumed = (await api.get(f"/api/messages/{quote(draft_id)}/draft")).json()
    assert resumed["thread"] == draft["thread"] and resumed["text"].endswith("more\n")
    assert len(await _uploads(api)) == 2  # each take-up copies the files again
    for extra in resumed["attachments"]:
        assert (await api.request("DELETE", f"/api/uploads/{extra['id']}")).status == 204

    sent = await api.post(
        "/api/send",
        json={
            "to": draft["to"],
            "cc": draft["cc"],
            "bcc": draft["bcc"],
            "subject": subject,
            "text": "Grüße,\ndone\n",
            "attachments": [copy["id"]],
            "thread": draft["thread"],
            "replaces": draft_id,
        },
    )
    assert sent.status == 200, sent
    assert "warning" not in sent.json()
    mail = _received(sandbox, sent.json()["message_id_header"])
    assert mail is not None and sorted(mail.rcpt_tos) == sorted([to, cc, bcc])
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert msg["In-Reply-To"] == parent_header
    assert msg["References"].split() == [root, parent_header]
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content() == payload
    assert await _find(api, "drafts", subject) == []  # the draft is gone
    assert len(await _find(api, "sent", subject)) == 1  # and the message is in Sent
    # The parent, known to the draft by its Message-ID only, is flagged answered.
    (parent,) = await _find(api, "inbox", parent_subject)
    assert parent["answered"] is True
    assert (await api.get(f"/api/messages/{quote(draft_id)}?peek=1")).status == 404


async def test_any_message_taken_up_keeps_safe_names_and_leaves_inline_parts(
    upstream: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    """A message mailgate did not write (another client's draft, a hostile one): the file
    names are cleaned as for uploads, inline parts stay behind, the text is decoded."""
    subject = f"Elsewhere {secrets.token_hex(4)}"
    msg = EmailMessage()
    msg["From"] = smtp_user[0]
    msg["To"] = "Ann <ann@example.net>, bob@example.net"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<e.{secrets.token_hex(4)}@x.test>"
    msg["In-Reply-To"] = "<parent@x.test>"
    # More references than a message built here carries, and one that is no msg-id.
    refs = [f"<r{i}@x.test>" for i in range(25)]
    msg["References"] = " ".join([*refs[:3], "not-an-id", *refs[3:]])
    msg.set_content("Grüße aus der Ferne\n", cte="quoted-printable")
    msg.add_related(b"\x89PNG\r\n\x1a\n" + bytes(64), "image", "png", cid="<logo@x.test>")
    msg.add_attachment(
        b"payload",
        maintype="application",
        subtype="x-evil",
        filename='../../etc/evil\u202e\x07"name.txt',
    )
    upstream.deliver(smtp_user[0], msg.as_bytes(policy=policy.SMTP))
    (listed,) = await _find(api, "inbox", subject)
    resp = await api.get(f"/api/messages/{quote(listed['id'])}/draft")
    assert resp.status == 200, resp
    draft = resp.json()
    assert [a["email"] for a in draft["to"]] == ["ann@example.net", "bob@example.net"]
    assert draft["text"] == "Grüße aus der Ferne\n"
    assert draft["thread"] == {
        "in_reply_to": "<parent@x.test>",
        "references": [refs[0], *refs[-19:]],  # the root and the most recent
        "forwarded": None,
    }
    (copy,) = draft["attachments"]  # the inline logo is not among them
    name = copy["filename"]
    assert "/" not in name and "\u202e" not in name and "\x07" not in name
    assert name.endswith("name.txt") and copy["content_type"] == "application/x-evil"
    assert copy["size"] == len(b"payload")
    # Not marked seen by being taken up.
    (listed,) = await _find(api, "inbox", subject)
    assert listed["seen"] is False
    # One with an HTML body only is taken up too: `html` says the body is at body.html.
    html_only = EmailMessage()
    html_only["From"] = smtp_user[0]
    html_only["Subject"] = subject + " html"
    html_only.set_content("<p>Only <b>HTML</b></p>", subtype="html")
    upstream.deliver(smtp_user[0], html_only.as_bytes(policy=policy.SMTP))
    (listed,) = await _find(api, "inbox", subject + " html")
    resp = await api.get(f"/api/messages/{quote(listed['id'])}/draft")
    assert resp.status == 200, resp
    assert resp.json()["html"] is True and resp.json()["text"] == ""
    assert draft["html"] is False
    assert await _uploads(api) == {copy["id"]}  # nothing copied for it
    # The thread as answered is taken back as it is.
    resp = await api.post("/api/drafts", json={"subject": subject, "thread": draft["thread"]})
    assert resp.status == 201, resp


async def test_send_replacing_a_non_draft_sends_nothing(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    subject = f"Not a draft {secrets.token_hex(4)}"
    upstream.deliver(smtp_user[0], _parent(f"<n.{secrets.token_hex(4)}@x.test>", None, subject))
    (inbox_msg,) = await _find(api, "inbox", subject)
    ok = {"to": [_rcpt()], "subject": subject + " out", "text": "x"}
    resp = await api.post("/api/send", json={**ok, "replaces": inbox_msg["id"]})
    assert resp.status == 400, resp
    resp = await api.post("/api/send", json={**ok, "replaces": "abc"})  # never an id
    assert resp.status == 404, resp
    both = {**ok, "in_reply_to": inbox_msg["id"], "thread": {"in_reply_to": None}}
    resp = await api.post("/api/send", json=both)
    assert resp.status == 400, resp
    assert _received_with_subject(sandbox, subject + " out") == []
    assert len(await _find(api, "inbox", subject)) == 1  # untouched


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_taking_up_a_draft_that_does_not_fit_copies_nothing(
    upstream: Any, make_mailgate: Any, user: tuple[str, str]
) -> None:
    """The copies obey the upload limits, and a take-up that fails copies no file."""
    mg = make_mailgate(limits={"upload_max_bytes": 100_000, "session_upload_max_bytes": 150_000})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        one = await _upload(api, b"1" * 60_000, "one.txt", "text/plain")
        two = await _upload(api, b"2" * 60_000, "two.txt", "text/plain")
        subject = f"Big {secrets.token_hex(4)}"
        saved = await api.post(
            "/api/drafts",
            json={"subject": subject, "attachments": [one["id"], two["id"]]},
        )
        assert saved.status == 201, saved
        assert (await api.request("DELETE", f"/api/uploads/{one['id']}")).status == 204
        # 60 000 bytes held: the first copy fits (120 000), the second does not.
        resp = await api.get(f"/api/messages/{quote(saved.json()['id'])}/draft")
        assert resp.status == 413, resp
        assert await _uploads(api) == {two["id"]}
        assert (await api.request("DELETE", f"/api/uploads/{two['id']}")).status == 204
        resp = await api.get(f"/api/messages/{quote(saved.json()['id'])}/draft")
        assert resp.status == 200, resp
        assert [a["filename"] for a in resp.json()["attachments"]] == ["one.txt", "two.txt"]


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_draft_replaces_must_name_a_draft(
    upstream: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    subject = f"Inbox {secrets.token_hex(4)}"
    upstream.deliver(smtp_user[0], _parent(f"<i.{secrets.token_hex(4)}@x.test>", None, subject))
    (inbox_msg,) = await _find(api, "inbox", subject)
    resp = await api.post("/api/drafts", json={"subject": "d", "replaces": inbox_msg["id"]})
    assert resp.status == 400, resp
    assert len(await _find(api, "inbox", subject)) == 1  # untouched
    assert await _find(api, "drafts", "d") == []  # and nothing saved


async def test_a_forward_saved_as_a_draft_marks_the_original_forwarded_when_sent(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    """Forward → save draft → take it up again → save again → send: the original, known to
    the draft only by its Message-ID (a header of the draft, in the user's own mailbox),
    gets $Forwarded, also in a folder other than INBOX; the message sent, and its copy in
    Sent, carry no such header."""
    made = await api.post("/api/mailboxes", json={"name": "Projects"})
    assert made.status == 201, made
    for where in ("INBOX", "Projects"):
        header = f"<f.{secrets.token_hex(6)}@x.test>"
        subject = f"To forward {secrets.token_hex(4)}"
        other = f"Same id elsewhere {secrets.token_hex(4)}"
        # A bystander whose Message-ID contains the original's (SEARCH is a substring match).
        upstream.deliver(smtp_user[0], _parent(header + " (copy)", None, other))
        upstream.deliver(smtp_user[0], _parent(header, None, subject), mailbox=where)
        box = next(
            b for b in (await api.get("/api/mailboxes")).json()["mailboxes"] if b["path"] == where
        )
        (original,) = [m for m in await _messages(api, box["id"]) if m["subject"] == subject]
        assert original["forwarded"] is False

        saved = await api.post(
            "/api/drafts",
            json={"subject": f"Fwd: {subject}", "text": "see below", "forward_of": original["id"]},
        )
        assert saved.status == 201, saved
        raw = await api.get(f"/api/messages/{quote(saved.json()['id'])}/raw")
        assert raw.status == 200
        assert f"X-Mailgate-Forward-Of: {header}".encode() in raw.body
        # Not marked by saving.
        (original,) = [m for m in await _messages(api, box["id"]) if m["subject"] == subject]
        assert original["forwarded"] is False

        draft = (await api.get(f"/api/messages/{quote(saved.json()['id'])}/draft")).json()
        assert draft["thread"] == {"in_reply_to": None, "references": [], "forwarded": header}
        again = await api.post(
            "/api/drafts",
            json={
                "subject": draft["subject"],
                "text": draft["text"] + " and more",
                "thread": draft["thread"],
                "replaces": draft["id"],
            },
        )
        assert again.status == 201, again
        draft = (await api.get(f"/api/messages/{quote(again.json()['id'])}/draft")).json()
        assert draft["thread"]["forwarded"] == header

        sent = await api.post(
            "/api/send",
            json={
                "to": [_rcpt()],
                "subject": draft["subject"],
                "text": draft["text"],
                "thread": draft["thread"],
                "replaces": draft["id"],
            },
        )
        assert sent.status == 200, sent
        assert "warning" not in sent.json()
        mail = _received(sandbox, sent.json()["message_id_header"])
        assert mail is not None
        assert b"X-Mailgate" not in mail.content and header.encode() not in mail.content
        msg = message_from_bytes(mail.content, policy=policy.default)
        assert {k.lower() for k in msg} <= ALLOWED_HEADERS
        (copy,) = await _find(api, "sent", draft["subject"])
        raw = await api.get(f"/api/messages/{quote(copy['id'])}/raw")
        assert b"X-Mailgate" not in raw.body

        (original,) = [m for m in await _messages(api, box["id"]) if m["subject"] == subject]
        assert original["forwarded"] is True and original["answered"] is False
        (bystander,) = await _find(api, "inbox", other)
        assert bystander["forwarded"] is False
        assert await _find(api, "drafts", draft["subject"]) == []
