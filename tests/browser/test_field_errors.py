"""A refusal of one form field names it by the label the user sees, in the user's
language, and marks and focuses that input: never the API's JSON field name (issue 17)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login, put_preferences
from tests.conftest import Upstream

pytestmark = pytest.mark.browser


def test_a_bad_address_is_named_by_its_label(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    upstream.deliver(
        email, b"From: a@example.test\r\nSubject: hello\r\n\r\nso the list has a row\r\n"
    )
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)

    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-to").fill("friend@example.test")
    page.get_by_test_id("compose-show-cc").click()
    page.get_by_test_id("compose-cc").fill("not quite@an address")
    page.get_by_test_id("compose-subject").fill("a subject")
    page.get_by_test_id("compose-send").click()
    error = page.get_by_test_id("compose-error")
    expect(error).to_have_text("“Cc” holds an address that is not valid.")
    cc = page.get_by_test_id("compose-cc")
    expect(cc).to_have_attribute("aria-invalid", "true")
    expect(cc).to_be_focused()
    expect(page.get_by_test_id("compose-to")).not_to_have_attribute("aria-invalid", "true")
    cc.press("End")
    cc.press("Backspace")
    expect(cc).not_to_have_attribute("aria-invalid", "true")

    # In German, with the German label.
    put_preferences(page, {"language": "de"})
    page.reload()
    page.get_by_test_id("message-row").first.wait_for()
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-to").fill("freund@@example.test")
    page.get_by_test_id("compose-subject").fill("ein Betreff")
    page.get_by_test_id("compose-send").click()
    expect(page.get_by_test_id("compose-error")).to_have_text(
        "„An“ enthält eine ungültige Adresse."
    )
    expect(page.get_by_test_id("compose-to")).to_be_focused()
