"""Search options in the bundled UI (issue 17): filters and "all folders" find mail in
other folders, each row naming its folder, a found message opens, and Clear returns to
the folder; the terms never reach the page's address."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Request, expect

from mailgate.testing.logcheck import CANARIES
from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login
from tests.browser.test_i18n import AXE_JS, _axe
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser


def test_filters_across_folders(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    word = f"kiwi{secrets.token_hex(3)}"
    CANARIES.add(word, kind="search term")
    carol = "Carol <carol@example.org>"
    upstream.deliver(email, plain_message(1, subject="hello inbox", to=email))
    upstream.deliver(email, plain_message(2, subject=f"{word} from carol", sender=carol, to=email))
    upstream.deliver(
        email, plain_message(3, subject=f"{word} filed", sender=carol, to=email), "Projects"
    )
    upstream.deliver(email, plain_message(4, subject=f"{word} from bob", to=email), "Projects")
    mg = make_mailgate()
    page = open_browser(mg).page
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if isinstance(r, Request) else None)
    page.add_init_script(path=str(AXE_JS))  # by the browser: the page's CSP stays
    login(page, mg, email, password)
    rows = page.get_by_test_id("message-row")
    expect(rows).to_have_count(2)

    toggle = page.get_by_test_id("search-options-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_test_id("search-opt-from")).to_be_focused()
    page.get_by_test_id("search-opt-from").fill("carol")
    page.get_by_test_id("search-opt-subject").fill(word)
    page.get_by_test_id("search-opt-scope").select_option("all")
    page.get_by_test_id("search-apply").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(f"{word} filed")
    expect(rows.nth(0).get_by_test_id("row-folder")).to_have_text("in Projects")
    expect(rows.nth(1)).to_contain_text(f"{word} from carol")
    expect(rows.nth(1).get_by_test_id("row-folder")).to_have_count(0)  # the open folder's own
    assert _axe(page) == []  # the open options and the found rows, WCAG 2.2 AA

    # This folder only.
    page.get_by_test_id("search-opt-scope").select_option("folder")
    page.get_by_test_id("search-apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"{word} from carol")

    # A hit from another folder opens.
    page.get_by_test_id("search-opt-scope").select_option("all")
    page.get_by_test_id("search-apply").click()
    expect(rows).to_have_count(2)
    rows.nth(0).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(f"{word} filed")

    page.get_by_test_id("search-clear").click()
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="hello inbox")).to_have_count(1)
    expect(page.get_by_test_id("search-options")).to_be_hidden()
    expect(toggle).to_be_focused()
    # The page's address never holds the terms (history, bookmarks, Referer).
    assert word not in page.url
    assert any("/api/search?" in u for u in urls)
