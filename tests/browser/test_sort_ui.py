"""The list's sort choice in real Chromium (issue 17): every order the API offers, picked
from the list header, reorders the rows and is announced."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login
from tests.conftest import Upstream
from tests.integration.test_sort_orders import MESSAGES, _expected, _message

pytestmark = pytest.mark.browser


def _order(page: Page) -> str:
    subjects = page.locator('[data-testid="message-row"] .row-subject').all_inner_texts()
    return "".join(next(n for n, v in MESSAGES.items() if v[1] == s) for s in subjects)


def test_sort_choices_reorder_the_list(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    tag = secrets.token_hex(3)
    for name in ("C", "A", "D", "B"):
        upstream.deliver(email, _message(name, tag))
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)
    rows = page.get_by_test_id("message-row")
    expect(rows).to_have_count(4)
    choice = page.get_by_label("Sort by")
    expect(choice).to_have_value("date_desc")
    assert _order(page) == _expected("date_desc")
    labels = {
        "date_asc": "Oldest first",
        "from_asc": "Sender: A to Z",
        "from_desc": "Sender: Z to A",
        "subject_asc": "Subject: A to Z",
        "subject_desc": "Subject: Z to A",
        "size_desc": "Largest first",
        "size_asc": "Smallest first",
        "date_desc": "Newest first",
    }
    for sort, label in labels.items():
        with page.expect_response(lambda r, s=sort: f"sort={s}" in r.url) as listed:
            choice.select_option(label=label)
        assert listed.value.status == 200
        expect(page.locator("#status")).to_have_text(f"Sorted: {label}.")
        expect(rows.first).to_contain_text(MESSAGES[_expected(sort)[0]][1])
        assert _order(page) == _expected(sort), sort
    # Received (arrival) orders are offered too: pymap took the Date header as arrival.
    choice.select_option("arrival_asc")
    expect(rows.first).to_contain_text(MESSAGES[_expected("date_asc")[0]][1])
    # The conversation view has one order: the choice is not offered there.
    page.get_by_test_id("mode-conversations").click()
    expect(choice).to_be_hidden()
