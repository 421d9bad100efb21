"""Folder names that look like paths show as the hierarchy the server has, never as a
second INBOX: "a/../../INBOX" is a folder "INBOX" three levels down (issue 17)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser


def test_a_path_like_name_is_shown_nested(
    mailgate: RunningMailgate, open_browser: OpenBrowser, upstream: Upstream
) -> None:
    email, password = upstream.new_user()
    upstream.deliver(email, plain_message(1, subject="in the inbox", to=email))
    upstream.deliver(email, plain_message(2, subject="deep down", to=email), "a/../../INBOX")
    page = open_browser(mailgate).page
    login(page, mailgate, email, password)

    folders = page.get_by_test_id("mailbox")
    expect(folders.filter(has_text="..")).to_have_count(2)
    inboxes = folders.filter(has_text="INBOX").or_(page.locator('[data-role="inbox"]'))
    expect(page.locator('[data-role="inbox"]')).to_have_count(1)
    # Every entry is one level below the one before: a, .., .., INBOX.
    chain = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="mailbox"]')]
            .map((b) => [b.textContent.trim(), b.style.getPropertyValue('--depth')])"""
    )
    names = [name for name, _ in chain]
    start = next(i for i, (name, _) in enumerate(chain) if name.startswith("a"))
    depths = [int(depth or 0) for _, depth in chain[start : start + 4]]
    assert depths == [0, 1, 2, 3], chain
    assert chain[start + 3][0].startswith("INBOX"), chain
    assert inboxes.count() == 2, names  # the real inbox and the nested one, told apart

    # The nested one opens as its own folder, holding only its own message.
    folders.nth(start + 3).click()
    rows = page.get_by_test_id("message-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("deep down")
