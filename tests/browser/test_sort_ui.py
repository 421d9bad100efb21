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
    # Sent sorts by recipient where the inbox sorts by sender, in the same direction.
    choice.select_option("from_desc")
    expect(page.locator("#status")).to_have_text("Sorted: Sender: Z to A.")
    assert _order(page) == _expected("from_desc")
    for name in ("C", "A", "D", "B"):
        upstream.deliver(email, _message(name, tag), "Sent")
    with page.expect_response(lambda r: "sort=to_desc" in r.url) as listed:
        page.locator('[data-testid="mailbox"][data-role="sent"]').click()
    assert listed.value.status == 200
    expect(choice).to_have_value("to_desc")
    expect(choice.locator('option[value="from_asc"]')).to_be_hidden()
    assert choice.locator("option:not([hidden])").all_inner_texts() == [
        "Newest first",
        "Oldest first",
        "Received: newest first",
        "Received: oldest first",
        "Recipient: A to Z",
        "Recipient: Z to A",
        "Subject: A to Z",
        "Subject: Z to A",
        "Largest first",
        "Smallest first",
    ]
    expect(rows).to_have_count(4)
    assert _order(page) == _expected("to_desc")
    choice.select_option(label="Recipient: A to Z")
    expect(rows.first).to_contain_text(MESSAGES[_expected("to_asc")[0]][1])
    assert _order(page) == _expected("to_asc")
    with page.expect_response(lambda r: "sort=from_asc" in r.url):
        page.locator('[data-testid="mailbox"][data-role="inbox"]').click()
    expect(choice).to_have_value("from_asc")
    # The conversation view has one order: the choice is not offered there.
    page.get_by_test_id("mode-conversations").click()
    expect(choice).to_be_hidden()
