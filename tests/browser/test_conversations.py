"""The conversation view in Chromium: the Messages / Conversations toggle, a thread of
three with the user's reply from Sent, read messages folded and the unread one open,
Enter to open and Escape to go back, under the strict CSP (no violation reported) and
without an axe-core finding."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, expect

import mailgate.ui
from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login, page_json
from tests.browser.test_i18n import AXE_JS, _axe
from tests.conftest import Upstream

pytestmark = pytest.mark.browser

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SAVED = json.loads((Path(mailgate.ui.__file__).parent / "static/i18n/en.json").read_text())[
    "prefs.saved"
]


def _mail(n: int, subject: str, mid: str, refs: list[str], sender: str, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(BASE + timedelta(minutes=n))
    msg["Message-ID"] = f"<{mid}>"
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
        msg["In-Reply-To"] = f"<{refs[-1]}>"
    msg.set_content(f"Text of message number {n} in the rota thread.\n")
    return msg.as_bytes()


def test_conversation_view_with_a_reply_from_sent(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    bob, ann, me = "Bob Builder <bob@example.net>", "Ann Archer <ann@example.net>", email
    subject = "Holiday rota planning"
    upstream.deliver(
        email, _mail(1, "Completely unrelated", "u@x", [], bob, me), "INBOX", ("\\Seen",)
    )
    upstream.deliver(email, _mail(10, subject, "t1@x", [], bob, me), "INBOX", ("\\Seen",))
    upstream.deliver(
        email, _mail(20, f"Re: {subject}", "t2@x", ["t1@x"], ann, me), "INBOX", ("\\Seen",)
    )
    upstream.deliver(
        email, _mail(30, f"Re: {subject}", "t3@x", ["t1@x", "t2@x"], me, bob), "Sent", ("\\Seen",)
    )
    upstream.deliver(email, _mail(40, f"Re: {subject}", "t4@x", ["t1@x", "t2@x", "t3@x"], bob, me))

    mg = make_mailgate()
    page = open_browser(mg).page
    problems: list[str] = []

    def on_console(m: ConsoleMessage) -> None:
        # (the 401 of the session probe before signing in is expected)
        if m.type == "error" and "status of 401" not in m.text:
            problems.append(m.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    if AXE_JS.is_file():
        page.add_init_script(path=str(AXE_JS))  # by the browser: the page's CSP stays
    login(page, mg, email, password)

    expect(page.get_by_test_id("message-row")).to_have_count(4)
    expect(page.get_by_test_id("mode-messages")).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("mode-conversations").click()
    expect(page.get_by_test_id("mode-conversations")).to_have_attribute("aria-pressed", "true")
    rows = page.get_by_test_id("conversation-row")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("message-row")).to_have_count(0)
    first = rows.nth(0)
    expect(first).to_contain_text(subject)
    expect(first.get_by_test_id("conversation-count")).to_have_text("4 messages")
    expect(first).to_have_class("message-row conversation-row unread")
    expect(rows.nth(1)).to_contain_text("Completely unrelated")
    expect(rows.nth(1)).to_have_class("message-row conversation-row")

    # Keyboard: focus the row, Enter opens the conversation.
    page.keyboard.press("j")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    items = page.get_by_test_id("conversation-message")
    expect(items).to_have_count(4)
    heads = page.get_by_test_id("conversation-toggle")
    for i, name in enumerate(["Bob Builder", "Ann Archer", email, "Bob Builder"]):
        expect(heads.nth(i)).to_contain_text(name)
    expect(heads.nth(2)).to_contain_text("Sent")  # the reply is shown with its mailbox
    # read ones folded, the unread one open with its text
    for i, expanded in enumerate(["false", "false", "false", "true"]):
        expect(heads.nth(i)).to_have_attribute("aria-expanded", expanded)
    expect(items.nth(3).get_by_test_id("reader-text")).to_contain_text("message number 40")
    expect(items.nth(0).get_by_test_id("reader-text")).to_have_count(0)
    if AXE_JS.is_file():
        assert _axe(page) == []  # the list and the open conversation, WCAG 2.2 AA
    # opening it read it: the row no longer counts it as unread
    expect(first).to_have_class("message-row conversation-row open")
    # a folded one opens on a click
    heads.nth(1).click()
    expect(heads.nth(1)).to_have_attribute("aria-expanded", "true")
    expect(items.nth(1).get_by_test_id("reader-text")).to_contain_text("message number 20")
    heads.nth(1).click()
    expect(items.nth(1).get_by_test_id("reader-text")).to_be_hidden()

    # Escape goes back to the list, to the same row.
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("reader-subject")).to_have_count(0)
    expect(rows.nth(0)).to_be_focused()

    # Mark all unread from the conversation, then back to the messages.
    page.keyboard.press("Enter")
    expect(items).to_have_count(4)
    page.get_by_test_id("conversation-unread").click()
    expect(rows.nth(0)).to_have_class("message-row conversation-row unread")
    # "/" searches the messages: the list leaves conversations for it.
    page.keyboard.press("/")
    expect(page.get_by_test_id("search-input")).to_be_focused()
    expect(page.get_by_test_id("mode-messages")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("message-row")).to_have_count(4)
    expect(page.locator(".message-row.unread")).to_have_count(3)
    assert problems == []


def test_the_list_view_preference_opens_conversations_at_sign_in(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    bob = "Bob Builder <bob@example.net>"
    upstream.deliver(email, _mail(1, "Shed colours", "p1@x", [], bob, email))
    upstream.deliver(email, _mail(2, "Re: Shed colours", "p2@x", ["p1@x"], bob, email))
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)
    expect(page.get_by_test_id("message-row")).to_have_count(2)
    # Chosen in Settings: saved, and the list follows at once.
    page.get_by_test_id("prefs-button").click()
    page.get_by_test_id("prefs-list-view").select_option("conversations")
    page.get_by_test_id("prefs-save").click()
    expect(page.locator("#status")).to_have_text(SAVED)  # stored before leaving
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    prefs = page_json(page, "/api/preferences")["body"]["preferences"]
    assert prefs["list_view"] == "conversations"
    # The next visit starts with conversations.
    page.reload()
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    expect(page.get_by_test_id("mode-conversations")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("conversation-count")).to_have_text("2 messages")
    # The toggle switches for this visit only: nothing is stored.
    page.get_by_test_id("mode-messages").click()
    expect(page.get_by_test_id("message-row")).to_have_count(2)
    prefs = page_json(page, "/api/preferences")["body"]["preferences"]
    assert prefs["list_view"] == "conversations"
    # Back to messages in Settings: the default is not stored at all.
    page.get_by_test_id("prefs-button").click()
    page.get_by_test_id("prefs-list-view").select_option("messages")
    page.get_by_test_id("prefs-save").click()
    expect(page.locator("#status")).to_have_text(SAVED)  # stored before leaving
    page.keyboard.press("Escape")
    prefs = page_json(page, "/api/preferences")["body"]["preferences"]
    assert "list_view" not in prefs
