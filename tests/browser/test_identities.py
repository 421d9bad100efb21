"""From identities in the bundled UI (issue 18): two identities added in Settings, a reply
picks the one the message was addressed to (Cc, or only Delivered-To), and the message
that reaches the sandbox's aiosmtpd has that identity's From, envelope sender and
Reply-To; an address the SMTP server refuses is said clearly in compose."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.logcheck import CANARIES
from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json

pytestmark = pytest.mark.browser


def _address(tag: str) -> str:
    address = f"{tag}-{secrets.token_hex(4)}@example.test"
    CANARIES.add(address, kind="address")
    return address


def _incoming(subject: str, *, cc: str | None = None, delivered_to: str | None = None) -> bytes:
    msg = EmailMessage()
    if delivered_to:
        msg["Delivered-To"] = delivered_to
    msg["From"] = "Grace Sender <grace@example.net>"
    msg["To"] = "team@example.net"
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<{secrets.token_hex(8)}@example.net>"
    msg.set_content("Please answer.\n")
    return msg.as_bytes(policy=policy.SMTP)


def _received(sandbox: RunningSandbox, subject: str) -> list[Any]:
    return [
        mail
        for mail in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(mail.content, policy=policy.default)["Subject"] == subject
    ]


def _add_identity(page: Page, *, name: str, email: str, reply_to: str = "", sig: str = "") -> None:
    page.get_by_test_id("identity-add").click()
    page.get_by_test_id("identity-name").fill(name)
    page.get_by_test_id("identity-email").fill(email)
    if reply_to:
        page.get_by_test_id("identity-reply-to").fill(reply_to)
    if sig:
        page.get_by_test_id("identity-signature").fill(sig)
    with page.expect_response(
        lambda r: r.url.endswith("/api/preferences") and r.request.method == "PUT"
    ) as saved:
        page.get_by_test_id("identity-save").click()
    assert saved.value.status == 200
    expect(page.get_by_test_id("identity-form")).to_have_count(0)


def _reply_and_send(page: Page, subject: str) -> str:
    page.get_by_test_id("message-row").filter(has_text=subject).click()
    page.get_by_test_id("reply").click()
    page.get_by_test_id("compose-text").wait_for()
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.text()
    return f"Re: {subject}"


def test_two_identities_and_a_reply_goes_out_as_the_one_addressed(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    upstream: Any,
    sandbox: RunningSandbox,
) -> None:
    work, lists, replies = _address("work"), _address("lists"), _address("replies")
    to_lists = f"For the list {secrets.token_hex(3)}"
    to_work = f"For work {secrets.token_hex(3)}"
    upstream.deliver(seeded_user.email, _incoming(to_lists, cc=f"Ada Lists <{lists}>"))
    upstream.deliver(seeded_user.email, _incoming(to_work, delivered_to=work))

    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)

    page.get_by_test_id("prefs-button").click()
    expect(page.get_by_test_id("identities-empty")).to_be_visible()
    _add_identity(page, name="Ada at Work", email=work, reply_to=replies, sig="Ada, Work Inc.")
    _add_identity(page, name="Ada Lists", email=lists, sig="Ada (lists)")
    expect(page.get_by_test_id("identity")).to_have_count(2)
    stored = page_json(page, "/api/preferences")["body"]["preferences"]["identities"]
    by_email = {i["email"]: i for i in stored}
    assert by_email[work]["reply_to"] == replies and by_email[lists]["name"] == "Ada Lists"
    page.get_by_test_id("prefs-close").click()

    # Cc'd to the list address: the reply goes out as "Ada Lists", with its signature.
    page.get_by_test_id("message-row").filter(has_text=to_lists).click()
    page.get_by_test_id("reply").click()
    expect(page.get_by_test_id("compose-from")).to_have_value(by_email[lists]["id"])
    expect(page.get_by_test_id("compose-text")).to_have_value(
        re.compile(r"^\n\n-- \nAda \(lists\)")
    )
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.text()
    (mail,) = _received(sandbox, f"Re: {to_lists}")
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert mail.mail_from == lists
    assert (msg["From"].addresses[0].display_name, msg["From"].addresses[0].addr_spec) == (
        "Ada Lists",
        lists,
    )
    assert msg["Reply-To"] is None
    assert "Ada (lists)" in msg.get_body(("plain",)).get_content()

    # Only the Delivered-To names the work address: the reply is from work, with its
    # Reply-To, and the Sent copy says so too.
    subject = _reply_and_send(page, to_work)
    (mail,) = _received(sandbox, subject)
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert mail.mail_from == work
    assert msg["From"].addresses[0].addr_spec == work
    assert msg["Reply-To"].addresses[0].addr_spec == replies
    boxes = page_json(page, "/api/mailboxes")["body"]["mailboxes"]
    sent_box = next(b for b in boxes if b["role"] == "sent")
    listed = page_json(page, f"/api/mailboxes/{sent_box['id']}/messages?limit=200")["body"]
    (copy,) = [m for m in listed["messages"] if m["subject"] == subject]
    assert copy["from"][0]["email"] == work


def test_an_address_the_server_refuses_is_said_clearly_in_compose(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    sandbox: RunningSandbox,
) -> None:
    alias = _address("alias")
    sandbox.sandbox.smtp.refuse_sender(alias)
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    page.get_by_test_id("prefs-button").click()
    _add_identity(page, name="Not Mine", email=alias)
    page.get_by_test_id("prefs-close").click()

    subject = f"Refused {secrets.token_hex(3)}"
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-from").select_option(label=f"Not Mine <{alias}>")
    page.get_by_test_id("compose-to").fill("dora@example.net")
    page.get_by_test_id("compose-subject").fill(subject)
    page.get_by_test_id("compose-text").fill("hello")
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 403
    expect(page.get_by_test_id("compose-error")).to_contain_text(
        "does not allow sending from this address"
    )
    # The form stays, nothing went out.
    expect(page.get_by_test_id("compose-subject")).to_have_value(subject)
    assert _received(sandbox, subject) == []
