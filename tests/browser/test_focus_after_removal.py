"""Focus after Move or Delete goes to the row that took the message's place (the previous
row at the end of the list), never to <body>; in the wide and the narrow layout."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, login

pytestmark = pytest.mark.browser
ROW = "message-row"


def _focused_subject(page: Page) -> str:
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          if (!el || el === document.body) return "<body>";
          return el.dataset.testid === "message-row" ? el.dataset.id : `<${el.tagName}>`;
        }"""
    )


def _ids(page: Page) -> list[str]:
    return page.get_by_test_id(ROW).evaluate_all("rows => rows.map(r => r.dataset.id)")


@pytest.mark.parametrize("width", [1280, 360])
def test_focus_after_move_and_delete_goes_to_the_next_row_or_the_previous(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox, width: int
) -> None:
    page = open_browser(mailgate, width=width, height=800).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)

    # Delete the second row: focus on the row that was third.
    before = _ids(page)
    rows.nth(1).click()
    page.get_by_test_id("reader-subject").wait_for()
    page.get_by_test_id("delete").click()
    expect(rows).to_have_count(4)
    expect(page.locator(f'[data-testid="{ROW}"][data-id="{before[2]}"]')).to_be_focused()
    page.wait_for_timeout(1500)  # a live refresh or a settled count must not take it away
    assert _focused_subject(page) == before[2]

    # Move the last row: focus on the new last row (the previous one).
    before = _ids(page)
    rows.nth(3).click()
    page.get_by_test_id("reader-subject").wait_for()
    page.get_by_test_id("move-select").select_option(
        page.locator('[data-testid="move-select"] option').first.get_attribute("value") or ""
    )
    page.get_by_test_id("move-submit").click()
    expect(rows).to_have_count(3)
    expect(page.locator(f'[data-testid="{ROW}"][data-id="{before[2]}"]')).to_be_focused()
    page.wait_for_timeout(1500)
    assert _focused_subject(page) == before[2]

    # Delete all the rest: at the end focus is on the list's title, not <body>.
    for _ in range(3):
        rows.first.click()
        page.get_by_test_id("reader-subject").wait_for()
        page.get_by_test_id("delete").click()
        page.wait_for_timeout(300)
    expect(rows).to_have_count(0)
    expect(page.locator("#list-title")).to_be_focused()
