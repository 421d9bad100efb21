"""Quoting in replies (issue 17): `quoteLines` (static/util.js) as a unit, in the page's
own module, and a reply form that ends its quote without an empty `>` line."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser

CASES = [
    # (body, quoted)
    ("Hello\n", "> Hello"),
    ("Hello\r\nthere\r\n\r\n", "> Hello\n> there"),
    ("\n\nfirst\n\nsecond\n \n", "> first\n>\n> second"),
    ("> earlier\nreply\n", ">> earlier\n> reply"),
    ("  indented\n\tcode\n", ">   indented\n> \tcode"),
    ("old\rmac\r", "> old\n> mac"),
    ("", ""),
    ("\n \n\n", ""),
]


def test_quote_lines_unit(mailgate: RunningMailgate, open_browser: OpenBrowser) -> None:
    page = open_browser(mailgate).page
    page.goto(mailgate.url + "/")
    page.get_by_test_id("login-submit").wait_for()
    got = page.evaluate(
        """async (bodies) => {
          const m = await import("/static/util.js");
          return [...bodies.map((b) => m.quoteLines(b)), m.quoteLines(null)];
        }""",
        [body for body, _ in CASES],
    )
    assert got == [quoted for _, quoted in CASES] + [""]


def test_a_reply_quote_ends_with_the_last_line_of_the_message(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    body = "First line.\n\nLast line.\n\n"
    upstream.deliver(email, plain_message(1, subject="Quote me", to=email, body=body))
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)
    page.get_by_test_id("message-row").filter(has_text="Quote me").click()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Quote me")
    page.get_by_test_id("reply").click()
    text = page.get_by_test_id("compose-text")
    expect(text).not_to_have_value("")
    value = text.input_value()
    lines = value.rstrip("\n").split("\n")
    assert lines[-3:] == ["> First line.", ">", "> Last line."], value
    assert value.endswith("> Last line.\n")
