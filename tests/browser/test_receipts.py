"""Read receipts in the bundled UI (issue 18): a message asking for one shows a choice;
nothing is sent unless "Send receipt" is clicked, and an answered one is not asked again.
Compose can ask for a receipt (off by default) and set a priority."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.logcheck import CANARIES
from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import Mailbox, OpenBrowser, login

pytestmark = pytest.mark.browser


def _asking(subject: str, asker: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Curious <{asker}>"
    msg["To"] = "reader@example.test"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<{secrets.token_hex(8)}@example.net>"
    msg["Disposition-Notification-To"] = asker
    msg.set_content("Did you read this?\n")
    return msg.as_bytes(policy=policy.SMTP)


def _to(sandbox: RunningSandbox, address: str) -> list[Any]:
    return [m for m in list(sandbox.sandbox.smtp.received) if address in m.rcpt_tos]


def _open(page: Page, subject: str) -> None:
    page.get_by_test_id("message-row").filter(has_text=subject).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)


def test_a_receipt_is_sent_only_on_click_and_not_asked_again(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    upstream: Any,
    sandbox: RunningSandbox,
) -> None:
    asker, other = (f"{t}-{secrets.token_hex(4)}@example.net" for t in ("asker", "other"))
    CANARIES.add(asker, other, kind="address")
    wanted, ignored = (f"{t} {secrets.token_hex(3)}" for t in ("Receipt", "Ignored"))
    upstream.deliver(seeded_user.email, _asking(wanted, asker))
    upstream.deliver(seeded_user.email, _asking(ignored, other))
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)

    _open(page, wanted)
    expect(page.get_by_test_id("receipt-notice")).to_contain_text(asker)
    page.wait_for_timeout(500)
    assert _to(sandbox, asker) == []  # reading alone sends nothing
    with page.expect_response(lambda r: r.url.endswith("/receipt")) as answered:
        page.get_by_test_id("receipt-send").click()
    assert answered.value.status == 200
    expect(page.get_by_test_id("receipt-done")).to_be_visible()
    (mail,) = _to(sandbox, asker)
    mdn = message_from_bytes(mail.content, policy=policy.default)
    assert mdn.get_content_type() == "multipart/report"
    assert mdn.get_param("report-type") == "disposition-notification"

    _open(page, ignored)
    with page.expect_response(lambda r: r.url.endswith("/receipt")) as answered:
        page.get_by_test_id("receipt-ignore").click()
    assert answered.value.status == 200
    expect(page.get_by_test_id("receipt-done")).to_be_visible()

    # Open again: neither asks any more; nothing more went out.
    for subject in (wanted, ignored):
        _open(page, subject)
        expect(page.get_by_test_id("reader-text")).to_contain_text("Did you read this?")
        expect(page.get_by_test_id("receipt-notice")).to_have_count(0)
    assert len(_to(sandbox, asker)) == 1
    assert _to(sandbox, other) == []


def test_compose_asks_for_a_receipt_and_sets_priority_only_when_chosen(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    sandbox: RunningSandbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    sent = {}
    for name, tick, priority in (("plain", False, None), ("asking", True, "high")):
        subject = f"{name} {secrets.token_hex(3)}"
        page.get_by_test_id("compose-button").click()
        expect(page.get_by_test_id("compose-receipt")).not_to_be_checked()
        expect(page.get_by_test_id("compose-priority")).to_have_value("normal")
        page.get_by_test_id("compose-to").fill("dora@example.net")
        page.get_by_test_id("compose-subject").fill(subject)
        page.get_by_test_id("compose-text").fill("hello")
        if tick:
            page.get_by_test_id("compose-receipt").check()
        if priority:
            page.get_by_test_id("compose-priority").select_option(priority)
        with page.expect_response(lambda r: r.url.endswith("/api/send")) as done:
            page.get_by_test_id("compose-send").click()
        assert done.value.status == 200
        expect(page.get_by_test_id("compose-send")).to_have_count(0)
        (mail,) = [
            message_from_bytes(m.content, policy=policy.default)
            for m in list(sandbox.sandbox.smtp.received)
            if message_from_bytes(m.content, policy=policy.default)["Subject"] == subject
        ]
        sent[name] = mail
    assert sent["plain"]["Disposition-Notification-To"] is None
    assert sent["plain"]["X-Priority"] is None and sent["plain"]["Importance"] is None
    assert str(sent["asking"]["Disposition-Notification-To"]) == f"<{seeded_user.email}>"
    assert str(sent["asking"]["X-Priority"]) == "1 (Highest)"
    assert str(sent["asking"]["Importance"]) == "high"
