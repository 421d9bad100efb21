"""From identities (issue 18): kept in the sealed preferences, chosen per message by id,
sent with their From, Reply-To and Bcc to themselves; the SMTP server still decides which
addresses a login may send from, and its refusal is a clear 403 `sender_refused`. Real
aiosmtpd submission and both IMAP servers (Dovecot and pymap) for the Sent copy."""

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
    address = f"{tag}-{secrets.token_hex(4)}@example.test"
    CANARIES.add(address, kind="address")
    return address


@pytest.fixture
def smtp_user(upstream: Any, sandbox: Any, user: tuple[str, str]) -> tuple[str, str]:
    """The logged-in user, known to the sandbox SMTP server too (it does the submission
    also when the mailboxes live in Dovecot)."""
    if upstream.name != "pymap":
        sandbox.add_user(*user)
    return user


@pytest.fixture
async def api(logged_in: ApiClient, smtp_user: tuple[str, str]) -> ApiClient:
    return logged_in


def _received(sandbox: Any, message_id_header: str) -> list[Any]:
    return [
        mail
        for mail in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(mail.content, policy=policy.default)["Message-ID"]
        == message_id_header
    ]


def _received_with_subject(sandbox: Any, subject: str) -> list[Any]:
    return [
        mail
        for mail in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(mail.content, policy=policy.default)["Subject"] == subject
    ]


async def _find(api: ApiClient, role: str, subject: str) -> list[dict[str, Any]]:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    box = next(b for b in boxes if b["role"] == role)
    resp = await api.get(f"/api/mailboxes/{box['id']}/messages?limit=200")
    assert resp.status == 200, resp
    return [m for m in resp.json()["messages"] if m["subject"] == subject]


async def _save_identities(api: ApiClient, identities: list[dict[str, Any]]) -> dict[str, Any]:
    resp = await api.request("PUT", "/api/preferences", json={"identities": identities})
    assert resp.status == 200, resp
    return resp.json()["preferences"]


async def test_identity_sends_with_its_from_reply_to_and_bcc_self(
    upstream: Any, sandbox: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    work, list_address, replies = _address("work"), _address("lists"), _address("replies")
    await _save_identities(
        api,
        [
            {"id": "work", "email": work, "name": "Ada at Work", "reply_to": replies},
            {"id": "lists", "email": list_address, "name": "Ada Lists", "bcc_self": True},
        ],
    )
    rcpt = _address("rcpt")

    subject = f"As work {secrets.token_hex(4)}"
    resp = await api.post(
        "/api/send", json={"to": [rcpt], "subject": subject, "text": "hi", "identity": "work"}
    )
    assert resp.status == 200, resp
    (mail,) = _received(sandbox, resp.json()["message_id_header"])
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert mail.mail_from == work
    assert msg["From"].addresses[0].addr_spec == work
    assert msg["From"].addresses[0].display_name == "Ada at Work"
    assert msg["Reply-To"].addresses[0].addr_spec == replies
    assert list(mail.rcpt_tos) == [rcpt]
    (sent,) = await _find(api, "sent", subject)
    view = (await api.get(f"/api/messages/{sent['id']}?peek=1")).json()
    assert view["from"][0]["email"] == work
    assert [a["email"] for a in view["reply_to"]] == [replies]

    subject = f"As lists {secrets.token_hex(4)}"
    resp = await api.post(
        "/api/send", json={"to": [rcpt], "subject": subject, "text": "hi", "identity": "lists"}
    )
    assert resp.status == 200, resp
    (mail,) = _received(sandbox, resp.json()["message_id_header"])
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert mail.mail_from == list_address
    assert msg["From"].addresses[0].addr_spec == list_address
    assert msg["Reply-To"] is None
    # Bcc to itself: in the envelope, never in the header that went out.
    assert sorted(mail.rcpt_tos) == sorted([rcpt, list_address])
    assert msg["Bcc"] is None

    # Without an identity: the login's own address, as before.
    subject = f"As me {secrets.token_hex(4)}"
    resp = await api.post("/api/send", json={"to": [rcpt], "subject": subject, "text": "hi"})
    assert resp.status == 200, resp
    (mail,) = _received(sandbox, resp.json()["message_id_header"])
    assert mail.mail_from == smtp_user[0]
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert msg["From"].addresses[0].addr_spec == smtp_user[0]


async def test_sender_refused_by_the_smtp_server_is_a_clear_403(
    upstream: Any, sandbox: Any, api: ApiClient
) -> None:
    alias = _address("notmine")
    sandbox.sandbox.smtp.refuse_sender(alias)
    await _save_identities(api, [{"id": "alias", "email": alias}])
    subject = f"Refused {secrets.token_hex(4)}"
    resp = await api.post(
        "/api/send",
        json={"to": [_address("rcpt")], "subject": subject, "text": "x", "identity": "alias"},
    )
    assert resp.status == 403, resp
    assert resp.json()["error"]["code"] == "sender_refused"
    assert "address" in resp.json()["error"]["message"]
    assert _received_with_subject(sandbox, subject) == []
    assert await _find(api, "sent", subject) == []
    # In another language the catalog says it.
    resp = await api.post(
        "/api/send",
        json={"to": [_address("rcpt")], "subject": subject, "text": "x", "identity": "alias"},
        headers={"Accept-Language": "de"},
    )
    assert resp.status == 403, resp
    assert resp.json()["error"]["code"] == "sender_refused"
    assert "Absender" in resp.json()["error"]["message"]


@PYMAP
async def test_unknown_identity_is_400_and_nothing_is_sent(
    upstream: Any, sandbox: Any, api: ApiClient
) -> None:
    await _save_identities(api, [{"id": "one", "email": _address("one")}])
    subject = f"Unknown identity {secrets.token_hex(4)}"
    for identity, status in (("two", 400), ("bad id!", 400), (7, 400)):
        resp = await api.post(
            "/api/send",
            json={"to": [_address("r")], "subject": subject, "text": "x", "identity": identity},
        )
        assert resp.status == status, resp
        assert "identity" in resp.json()["error"]["message"]
    assert _received_with_subject(sandbox, subject) == []


@PYMAP
async def test_identities_are_validated_and_normalized(upstream: Any, api: ApiClient) -> None:
    good = {"id": "a", "email": "  Ada@Bücher.example  ", "name": " Ada ", "signature": "-- \nA"}
    saved = await _save_identities(api, [good])
    (identity,) = saved["identities"]
    assert identity == {
        "id": "a",
        "email": "Ada@xn--bcher-kva.example",
        "name": "Ada",
        "signature": "-- \nA",
    }
    assert (await api.get("/api/preferences")).json()["preferences"]["identities"] == [identity]

    bad_values: list[Any] = [
        [{"id": "a", "email": "not an address"}],
        [{"id": "a", "email": "a@b.example", "reply_to": "nope"}],
        [{"id": "a", "email": "a@b.example"}, {"id": "a", "email": "c@d.example"}],
        [{"id": "a", "email": "a@b.example", "name": "x\ny"}],
        [{"id": "a b", "email": "a@b.example"}],
        [{"email": "a@b.example"}],
        [{"id": "a", "email": "a@b.example", "bcc_self": "yes"}],
        [{"id": "a", "email": "a@b.example", "colour": "red"}],
        [{"id": "a", "email": "a@b.example", "signature": "s" * 2001}],
        [{"id": f"i{n}", "email": f"a{n}@b.example"} for n in range(21)],
        "a@b.example",
    ]
    for value in bad_values:
        resp = await api.request("PUT", "/api/preferences", json={"identities": value})
        assert resp.status == 400, (value, resp)
        assert "identities" in resp.json()["error"]["message"], value
    assert (await api.get("/api/preferences")).json()["preferences"]["identities"] == [identity]


async def test_delivered_to_is_in_the_message_view(
    upstream: Any, api: ApiClient, smtp_user: tuple[str, str]
) -> None:
    alias = _address("alias")
    msg = EmailMessage()
    msg["Delivered-To"] = alias
    msg["Delivered-To"] = smtp_user[0]
    msg["From"] = "Someone Else <someone@example.net>"
    msg["To"] = "undisclosed-recipients:;"
    msg["Subject"] = subject = f"Via alias {secrets.token_hex(4)}"
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<{secrets.token_hex(8)}@example.net>"
    msg.set_content("to an alias\n")
    upstream.deliver(smtp_user[0], msg.as_bytes(policy=policy.SMTP))
    (found,) = await _find(api, "inbox", subject)
    view = (await api.get(f"/api/messages/{found['id']}?peek=1")).json()
    assert [a["email"] for a in view["delivered_to"]] == [alias, smtp_user[0]]


async def test_a_draft_keeps_its_identity_when_taken_up_again(
    upstream: Any, api: ApiClient
) -> None:
    alias = _address("drafting")
    await _save_identities(api, [{"id": "d", "email": alias, "name": "Ada Drafts"}])
    subject = f"Draft as alias {secrets.token_hex(4)}"
    resp = await api.post(
        "/api/drafts",
        json={"to": [_address("r")], "subject": subject, "text": "x", "identity": "d"},
    )
    assert resp.status == 201, resp
    draft_id = resp.json()["id"]
    assert draft_id is not None
    resumed = (await api.get(f"/api/messages/{draft_id}/draft")).json()
    assert resumed["from"] == [{"name": "Ada Drafts", "email": alias}]
