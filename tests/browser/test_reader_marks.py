"""Reader and list marks in real Chromium (issue 17): marking a message unread and read
again from the reader, which stays open, and the list's attachment mark."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login, page_json
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message, with_attachment

pytestmark = pytest.mark.browser

ROW = "message-row"
UNREAD = re.compile(r"(^|\s)unread(\s|$)")


def _drawn_size(locator: Locator) -> tuple[float, float]:
    """Width and height as drawn. The live update after login may draw the list again,
    and an element replaced between finding and measuring measures nothing: then the
    current one is measured."""
    for _ in range(50):
        box = locator.bounding_box()
        if box is not None and box["width"] > 0:
            return box["width"], box["height"]
        time.sleep(0.1)
    raise AssertionError("the element was never drawn")


def _server_seen(page: Page, message_id: str) -> bool:
    answer = page_json(page, f"/api/messages/{message_id}?peek=1")
    assert answer["status"] == 200, answer
    return bool(answer["body"]["seen"])


def test_mark_unread_then_read_from_the_reader_which_stays_open(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    upstream.deliver(email, plain_message(1, subject="Marks one", to=email))
    upstream.deliver(email, plain_message(2, subject="Marks two", to=email))
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)
    inbox = page.locator('[data-testid="mailbox"][data-role="inbox"]')
    unread = inbox.locator(".mailbox-unread [aria-hidden]")
    expect(unread).to_have_text("2")

    row = page.get_by_test_id(ROW).filter(has_text="Marks one")
    message_id = row.get_attribute("data-id")
    assert message_id
    row.click()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Marks one")
    expect(row).not_to_have_class(UNREAD)
    expect(unread).to_have_text("1")
    expect(page.get_by_test_id("mark-read")).to_have_count(0)

    page.get_by_test_id("mark-unread").click()
    # The reader stays on the message; the action turns into its opposite.
    mark_read = page.get_by_test_id("mark-read")
    expect(mark_read).to_have_text("Mark as read")
    expect(mark_read).to_be_focused()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Marks one")
    expect(page.get_by_test_id("mark-unread")).to_have_count(0)
    expect(row).to_have_class(UNREAD)
    expect(unread).to_have_text("2")
    expect(page.locator("#status")).to_have_text("Marked as unread.")
    assert _server_seen(page, message_id) is False

    mark_read.click()
    expect(page.get_by_test_id("mark-unread")).to_have_text("Mark unread")
    expect(page.get_by_test_id("reader-subject")).to_have_text("Marks one")
    expect(row).not_to_have_class(UNREAD)
    expect(unread).to_have_text("1")
    expect(page.locator("#status")).to_have_text("Marked as read.")
    assert _server_seen(page, message_id) is True
    # The other message was never touched.
    other = page.get_by_test_id(ROW).filter(has_text="Marks two")
    expect(other).to_have_class(UNREAD)


def test_the_attachment_mark_is_a_paper_clip_with_a_spoken_label(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    pdf = with_attachment(b"%PDF-1.4\n", "a.pdf", "application/pdf", "Invoice file")
    upstream.deliver(email, pdf)
    upstream.deliver(email, plain_message(1, subject="Plain note", to=email))
    mg = make_mailgate()
    bs = open_browser(mg)
    page = bs.page
    login(page, mg, email, password)
    row = page.get_by_test_id(ROW).filter(has_text="Invoice file")
    mark = row.get_by_test_id("row-attachment")
    expect(mark).to_have_count(1)
    plain = page.get_by_test_id(ROW).filter(has_text="Plain note")
    expect(plain.get_by_test_id("row-attachment")).to_have_count(0)
    # Seen: a drawn clip, taller than wide, and no visible text that could read as a digit.
    icon = mark.locator("svg")
    expect(icon).to_have_attribute("aria-hidden", "true")
    assert icon.locator("path").get_attribute("d")
    width, height = _drawn_size(icon)
    assert height > width > 0
    visible_text = mark.evaluate(
        "(el) => [...el.childNodes].filter((n) => !n.classList?.contains('visually-hidden'))"
        ".map((n) => n.textContent).join('').trim()"
    )
    assert visible_text == ""
    # Heard: the catalog's words, in the row's accessible name.
    expect(row).to_have_accessible_name(re.compile(r"Has attachments\."))
    expect(plain).not_to_have_accessible_name(re.compile(r"Has attachments"))
