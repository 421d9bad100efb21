"""Toasts never cover the last row of the list (issue 17): scrolled to the end, the last
row sits above the toast, wide and at 360 px, and the last mailbox too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser


def _overlap(page: Page, selector: str) -> float:
    """How many pixels of the toast's height overlap the element (0: none)."""
    return float(
        page.evaluate(
            """(sel) => {
              const a = document.querySelector(sel).getBoundingClientRect();
              const b = document.querySelector("#status").getBoundingClientRect();
              const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
              const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
              return x > 0 && y > 0 ? y : 0;
            }""",
            selector,
        )
    )


# As long as a toast gets: three lines at its widest (the app's longest messages).
LONG = (
    "Only the first part of the headers is shown; download the original message for all "
    "of it. Remote images from this sender will always be loaded through the proxy."
)


def _toast_then_scroll_to_end(page: Page, scroller: str) -> None:
    page.evaluate(
        "async (text) => (await import('/static/state.js')).announce(text, 'error')", LONG
    )
    expect(page.locator("#status")).to_have_class("status visible")
    page.locator(scroller).evaluate("e => e.scrollTo(0, e.scrollHeight)")


@pytest.mark.parametrize("width", [1280, 360])
def test_the_toast_never_covers_the_last_row(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
    width: int,
) -> None:
    email, password = upstream.new_user()
    for n in range(1, 31):
        upstream.deliver(email, plain_message(n, subject=f"Row number {n:02d}", to=email))
    mg = make_mailgate()
    page = open_browser(mg, width=width, height=640).page
    login(page, mg, email, password)
    expect(page.get_by_test_id("message-row")).to_have_count(30)
    last = '#message-list li:last-child [data-testid="message-row"]'

    # Without the room the list keeps for it, the toast would sit on the last row.
    # (the check can fail: it does here, with that room taken away.)
    ul = page.locator("#message-list")
    ul.evaluate("e => e.style.setProperty('padding-bottom', '0px', 'important')")
    _toast_then_scroll_to_end(page, "#message-list")
    assert _overlap(page, last) > 0
    ul.evaluate("e => e.style.removeProperty('padding-bottom')")

    _toast_then_scroll_to_end(page, "#message-list")
    expect(page.locator(last)).to_contain_text("Row number 01")
    assert _overlap(page, last) == 0
    # The row is on screen, clickable above the toast.
    page.locator(last).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Row number 01")
    if width == 360:
        return
    # The mailbox pane keeps the same room under its last entry (New folder).
    _toast_then_scroll_to_end(page, ".pane-nav")
    assert _overlap(page, "#folder-new") == 0
