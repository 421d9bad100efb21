"""Junk and Trash in the bundled UI: mark as junk and back, restore from Trash to where the
message was, and "Empty Trash" confirmed in the app's own dialog."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, login

pytestmark = pytest.mark.browser
ROW = "message-row"


def _open_box(page: Page, role: str) -> None:
    page.locator(f'[data-testid="mailbox"][data-role="{role}"]').click()
    expect(page.locator(f'[data-testid="mailbox"][data-role="{role}"]')).to_have_attribute(
        "aria-current", "page"
    )


def _open(page: Page, subject: str) -> None:
    page.get_by_test_id(ROW).filter(has_text=subject).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)


def test_empty_trash_asks_in_the_apps_dialog(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    page.on("dialog", lambda d: pytest.fail(f"a native dialog opened: {d.message}"))
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)
    for subject in ("Lunch plans", "Holiday photos"):
        _open(page, subject)
        page.get_by_test_id("delete").click()
        expect(rows.filter(has_text=subject)).to_have_count(0)
    expect(page.get_by_test_id("empty-folder")).to_be_hidden()  # not in the inbox

    _open_box(page, "trash")
    expect(rows).to_have_count(2)
    empty = page.get_by_test_id("empty-folder")
    expect(empty).to_have_text("Empty Trash")
    empty.click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("Empty the Trash?")
    expect(page.get_by_test_id("dialog-cancel")).to_be_focused()
    page.get_by_test_id("dialog-cancel").click()
    expect(dialog).to_have_count(0)
    expect(empty).to_be_focused()
    expect(rows).to_have_count(2)

    empty.click()
    with page.expect_response(lambda r: r.url.endswith("/empty")) as emptied:
        page.get_by_test_id("dialog-confirm").click()
    assert emptied.value.status == 200
    assert emptied.value.json() == {"deleted": 2}
    expect(rows).to_have_count(0)
    expect(empty).to_be_hidden()
    expect(page.locator("#status")).to_have_text("The folder is empty now.")
    assert page.evaluate("document.activeElement !== document.body")
    _open_box(page, "inbox")
    expect(rows).to_have_count(3)


def test_junk_not_junk_and_restore_through_the_reader(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    _open(page, "Weekly newsletter")
    page.get_by_test_id("junk").click()
    expect(rows.filter(has_text="Weekly newsletter")).to_have_count(0)
    expect(page.get_by_test_id("undo-toast")).to_contain_text("Moved to Junk.")
    _open_box(page, "junk")
    expect(rows).to_have_count(1)
    _open(page, "Weekly newsletter")
    expect(page.get_by_test_id("junk")).to_have_count(0)
    page.get_by_test_id("not-junk").click()
    expect(rows).to_have_count(0)
    _open_box(page, "inbox")
    expect(rows.filter(has_text="Weekly newsletter")).to_have_count(1)

    # Delete from a folder, restore from Trash: back in that folder.
    page.get_by_test_id("move-select").wait_for(state="detached")
    _open(page, "Quarterly report")
    page.get_by_test_id("delete").click()
    _open_box(page, "trash")
    _open(page, "Quarterly report")
    page.get_by_test_id("restore").click()
    expect(rows).to_have_count(0)
    _open_box(page, "inbox")
    expect(rows.filter(has_text="Quarterly report")).to_have_count(1)
