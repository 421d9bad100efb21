"""The message list names recipients in Sent and Drafts, and replied and forwarded marks
show in the list and the reader (issue 17), in real Chromium against pymap."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login, page_json
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser


def _row(page: Page, subject: str) -> Locator:
    return page.get_by_test_id("message-row").filter(has_text=subject)


def _mailbox(page: Page, role: str) -> None:
    page.locator(f'[data-testid="mailbox"][data-role="{role}"]').click()


def _send(page: Page) -> None:
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.status
    expect(page.get_by_test_id("compose-send")).to_have_count(0)


def _listed(page: Page, message_id: str) -> dict:
    inbox = next(
        b for b in page_json(page, "/api/mailboxes")["body"]["mailboxes"] if b["role"] == "inbox"
    )
    listed = page_json(page, f"/api/mailboxes/{inbox['id']}/messages")["body"]["messages"]
    return next(m for m in listed if m["id"] == message_id)


def test_replied_and_forwarded_marks_and_recipients_in_sent(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    tag = secrets.token_hex(3)
    replied, forwarded = f"Answer me {tag}", f"Pass me on {tag}"
    upstream.deliver(email, plain_message(1, subject=replied, to=email))
    upstream.deliver(email, plain_message(2, subject=forwarded, to=email))
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)

    # Nothing is marked before anything was sent.
    expect(page.get_by_test_id("row-answered")).to_have_count(0)
    expect(page.get_by_test_id("row-forwarded")).to_have_count(0)

    # A reply marks its message replied: in the reader at once, in the list too.
    row = _row(page, replied)
    reply_id = row.get_attribute("data-id")
    assert reply_id
    row.click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(replied)
    expect(page.get_by_test_id("reader-marks")).to_be_hidden()
    page.get_by_test_id("reply").click()
    page.get_by_test_id("compose-text").fill("Yes.")
    _send(page)
    mark = _row(page, replied).get_by_test_id("row-answered")
    expect(mark).to_have_count(1)
    # The icon is decorative; its meaning is text in the row's accessible name.
    expect(mark.locator("svg")).to_have_attribute("aria-hidden", "true")
    expect(_row(page, replied)).to_have_accessible_name(re.compile(r"Replied\."))
    assert _listed(page, reply_id)["answered"] is True
    assert _listed(page, reply_id)["forwarded"] is False

    # A forward marks its message forwarded (the keyword $Forwarded on the server).
    row = _row(page, forwarded)
    fwd_id = row.get_attribute("data-id")
    assert fwd_id
    row.click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(forwarded)
    page.get_by_test_id("forward").click()
    page.get_by_test_id("compose-to").fill("Dora Fwd <dora.fwd@example.net>")
    _send(page)
    expect(_row(page, forwarded).get_by_test_id("row-forwarded")).to_have_count(1)
    expect(_row(page, forwarded).get_by_test_id("row-answered")).to_have_count(0)
    listed = _listed(page, fwd_id)
    assert listed["forwarded"] is True and listed["answered"] is False

    # Opened again (from the server, not the page's copy), the reader says both.
    page.reload()
    page.get_by_test_id("message-row").first.wait_for()
    _row(page, forwarded).click()
    expect(page.get_by_test_id("reader-forwarded")).to_have_text("Forwarded")
    expect(page.get_by_test_id("reader-answered")).to_have_count(0)
    _row(page, replied).click()
    expect(page.get_by_test_id("reader-answered")).to_have_text("Replied")

    # Sent lists whom each message went to, not the user.
    _mailbox(page, "sent")
    sent_row = _row(page, f"Fwd: {forwarded}")
    expect(sent_row.get_by_test_id("row-recipients")).to_have_text("To: Dora Fwd")
    # (The preview may quote the forwarded header; the people line names the recipient.)
    expect(sent_row.get_by_test_id("row-recipients")).not_to_contain_text(email)
    expect(sent_row).to_have_attribute("title", "Dora Fwd <dora.fwd@example.net>")
    # The inbox still names senders.
    _mailbox(page, "inbox")
    expect(_row(page, replied).get_by_test_id("row-recipients")).to_have_count(0)


def test_drafts_list_recipients_or_says_there_are_none(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    upstream.deliver(email, plain_message(1, subject="Something to start", to=email))
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)
    tag = secrets.token_hex(3)
    for subject, to in (
        (f"For Erin {tag}", "Erin Draft <erin@example.net>"),
        (f"Nobody {tag}", ""),
    ):
        page.get_by_test_id("compose-button").click()
        if to:
            page.get_by_test_id("compose-to").fill(to)
        page.get_by_test_id("compose-subject").fill(subject)
        with page.expect_response(lambda r: r.url.endswith("/api/drafts")) as saved:
            page.get_by_test_id("compose-draft").click()
        assert saved.value.status == 201
        # Leaving with nothing unsaved closes the form.
        _mailbox(page, "drafts")
        expect(page.get_by_test_id("compose-send")).to_have_count(0)
    expect(_row(page, f"For Erin {tag}").get_by_test_id("row-recipients")).to_have_text(
        "To: Erin Draft"
    )
    expect(_row(page, f"Nobody {tag}").get_by_test_id("row-recipients")).to_have_text(
        "To: (no recipients)"
    )
