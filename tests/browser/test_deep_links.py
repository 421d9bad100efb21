"""Deep links and history (issue 17): the fragment names the open mailbox and message;
Back and Forward move through them; a reload and a bookmarked link opened before sign-in
land on the same view; signing out forgets it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser
ROW = "message-row"


def _hash(page: Page) -> str:
    return page.evaluate("window.location.hash")


def _boxes(page: Page) -> dict[str, str]:
    boxes = page_json(page, "/api/mailboxes")["body"]["mailboxes"]
    return {b["role"] or b["name"]: b["id"] for b in boxes}


def test_back_forward_reload_and_a_bookmark_opened_before_sign_in(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox, upstream: Upstream
) -> None:
    upstream.deliver(
        seeded_user.email, plain_message(90, subject="Project kickoff"), mailbox="Projects"
    )
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    boxes = _boxes(page)
    inbox, projects = boxes["inbox"], boxes["Projects"]
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)
    assert _hash(page) == f"#/mailbox/{inbox}"

    second = rows.nth(1)
    message = second.get_attribute("data-id")
    subject = page.locator(".row-subject").nth(1).inner_text()
    second.click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    assert _hash(page) == f"#/mailbox/{inbox}/message/{message}"
    # Only opaque ids: nothing readable (no subject, no address) in the address.
    assert re.fullmatch(r"#/mailbox/[A-Za-z0-9_-]+/message/[A-Za-z0-9_-]+", _hash(page))

    # Back returns to the list, with focus on the row that was open; Forward reopens it.
    page.go_back()
    expect(page.get_by_test_id("reader-subject")).to_have_count(0)
    assert _hash(page) == f"#/mailbox/{inbox}"
    expect(page.locator(f'[data-testid="{ROW}"][data-id="{message}"]')).to_be_focused()
    page.go_forward()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    # The skip link moves focus without touching the address or the open message.
    page.locator(".skip-link").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#list-title")).to_be_focused()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    assert _hash(page) == f"#/mailbox/{inbox}/message/{message}"

    # Another folder is a history entry of its own.
    page.locator('[data-testid="mailbox"]', has_text="Projects").click()
    expect(rows).to_have_count(1)
    assert _hash(page) == f"#/mailbox/{projects}"
    page.go_back()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    expect(rows).to_have_count(5)
    assert page.locator('#mailbox-list [aria-current="page"]').get_attribute("data-id") == inbox

    # Escape closes the message and the address says so (in place, no new entry).
    page.get_by_test_id("reader-subject").focus()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("reader-subject")).to_have_count(0)
    assert _hash(page) == f"#/mailbox/{inbox}"

    # A reload restores the open folder and message.
    page.locator('[data-testid="mailbox"]', has_text="Projects").click()
    expect(rows).to_have_count(1)
    rows.first.click()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Project kickoff")
    link = page.url
    page.reload()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Project kickoff")
    expect(rows).to_have_count(1)
    assert page.url == link

    # A bookmarked link opened in a browser that is not signed in lands there after sign-in.
    other = open_browser(mailgate).page
    other.goto(link)
    other.get_by_test_id("login-email").fill(seeded_user.email)
    other.get_by_test_id("login-password").fill(seeded_user.password)
    other.get_by_test_id("login-submit").click()
    expect(other.get_by_test_id("reader-subject")).to_have_text("Project kickoff")
    assert other.url == link

    # Signing out forgets the view: the next sign-in starts in the inbox.
    other.get_by_test_id("logout").click()
    expect(other.get_by_test_id("login-email")).to_be_visible()
    assert _hash(other) == ""


def test_a_link_to_a_gone_message_or_an_unknown_folder_opens_the_inbox(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    inbox = _boxes(page)["inbox"]
    gone = f"#/mailbox/{inbox}/message/eHh4"
    for link in (
        f"#/mailbox/bm8tc3VjaC1ib3g/message/{page.get_by_test_id(ROW).first.get_attribute('data-id')}",
        gone,
    ):
        # Within the page (a pasted fragment), then as a fresh load.
        page.goto(f"{mailgate.url}/{link}")
        expect(page.get_by_test_id(ROW)).to_have_count(5)
        expect(page.get_by_test_id("reader-subject")).to_have_count(0)
        expect(page).to_have_url(f"{mailgate.url}/#/mailbox/{inbox}")
        page.goto("about:blank")
        page.goto(f"{mailgate.url}/{link}")
        expect(page.get_by_test_id(ROW)).to_have_count(5)
        expect(page.get_by_test_id("reader-subject")).to_have_count(0)
        expect(page).to_have_url(f"{mailgate.url}/#/mailbox/{inbox}")


def test_conversations_and_the_narrow_layout_follow_back_and_forward(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate, width=360, height=800).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    inbox = _boxes(page)["inbox"]
    rows = page.get_by_test_id(ROW)
    subject = page.locator(".row-subject").first.inner_text()
    rows.first.click()
    reader = page.get_by_test_id("reader-subject")
    expect(reader).to_have_text(subject)
    expect(rows.first).to_be_hidden()  # the narrow layout shows the reader alone
    page.go_back()
    expect(rows.first).to_be_visible()
    expect(reader).to_have_count(0)

    page.get_by_test_id("mode-conversations").click()
    conversations = page.get_by_test_id("conversation-row")
    expect(conversations.first).to_be_visible()
    conversation = conversations.first.get_attribute("data-id")
    conversations.first.click()
    expect(reader).to_be_visible()
    assert _hash(page) == f"#/mailbox/{inbox}/conversation/{conversation}"
    page.go_back()
    expect(conversations.first).to_be_visible()
    expect(reader).to_have_count(0)
    assert _hash(page) == f"#/mailbox/{inbox}"
    page.go_forward()
    expect(reader).to_be_visible()
    expect(conversations.first).to_be_hidden()
