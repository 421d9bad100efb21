"""Archive in the bundled UI (issue 17): the reader's button, the "e" key on the open message
and on a selection, each undone from the toast; the Archive folder is made on demand on
pymap, listed with its role, and offers no Archive of its own."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json

pytestmark = pytest.mark.browser
ROW = "message-row"


def _archived(page: Page) -> list[str]:
    boxes = page_json(page, "/api/mailboxes")["body"]["mailboxes"]
    box = next((b for b in boxes if b["role"] == "archive"), None)
    if box is None:
        return []
    body = page_json(page, f"/api/mailboxes/{box['id']}/messages")["body"]
    return sorted(m["subject"] for m in body["messages"])


def _open(page: Page, subject: str) -> None:
    page.get_by_test_id(ROW).filter(has_text=subject).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)


def test_archive_by_button_and_key_and_undo(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)
    archive_box = page.locator('[data-testid="mailbox"][data-role="archive"]')
    expect(archive_box).to_have_count(0)  # pymap: none yet
    toast = page.get_by_test_id("undo-toast")

    # The reader's button: gone from the inbox, in a new Archive folder; Undo brings it back.
    _open(page, "Quarterly report")
    button = page.get_by_test_id("archive")
    expect(button).to_have_attribute("aria-keyshortcuts", "e")
    button.click()
    expect(rows.filter(has_text="Quarterly report")).to_have_count(0)
    expect(toast).to_contain_text("Moved to the Archive.")
    expect(archive_box).to_have_count(1)
    expect(archive_box).to_contain_text("Archive")
    expect(archive_box.locator(".mailbox-icon.role-archive")).to_have_count(1)
    assert _archived(page) == ["Quarterly report"]
    page.get_by_test_id("undo").click()
    expect(rows.filter(has_text="Quarterly report")).to_have_count(1)
    expect(rows).to_have_count(5)
    assert _archived(page) == []

    # "e" on the open message, "z" undoes it.
    _open(page, "Lunch plans")
    page.keyboard.press("e")
    expect(rows.filter(has_text="Lunch plans")).to_have_count(0)
    expect(toast).to_contain_text("Moved to the Archive.")
    assert _archived(page) == ["Lunch plans"]
    page.keyboard.press("z")
    expect(rows.filter(has_text="Lunch plans")).to_have_count(1)
    assert _archived(page) == []

    # "e" on a selection; the bar has the button too.
    checks = page.get_by_test_id("row-select")
    checks.nth(0).click()
    checks.nth(1).click()
    expect(page.get_by_test_id("bulk-archive")).to_be_visible()
    chosen = sorted(page.locator(".message-row .row-subject").all_inner_texts()[:2])
    page.keyboard.press("e")
    expect(rows).to_have_count(3)
    expect(toast).to_contain_text("2 messages archived.")
    assert _archived(page) == chosen
    page.get_by_test_id("undo").click()
    expect(rows).to_have_count(5)
    assert _archived(page) == []

    # Inside the Archive, nothing offers to archive again.
    _open(page, "Holiday photos")
    page.get_by_test_id("archive").click()
    expect(rows).to_have_count(4)
    archive_box.click()
    expect(archive_box).to_have_attribute("aria-current", "page")
    expect(rows).to_have_count(1)
    _open(page, "Holiday photos")
    expect(page.get_by_test_id("archive")).to_have_count(0)
    page.keyboard.press("e")
    page.keyboard.press("Escape")
    checks.nth(0).click()
    expect(page.get_by_test_id("bulk-bar")).to_be_visible()
    expect(page.get_by_test_id("bulk-archive")).to_be_hidden()
    page.keyboard.press("e")
    expect(rows).to_have_count(1)
    assert _archived(page) == ["Holiday photos"]
