"""Show headers, show source and print from the reader, in real Chromium (issue 17)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login
from tests.browser.test_i18n import AXE_JS, _axe
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message
from tests.integration.test_message_headers import _raw

pytestmark = pytest.mark.browser


def test_headers_source_and_print(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    tag = secrets.token_hex(4)
    upstream.deliver(email, _raw(tag))
    big = plain_message(2, subject=f"Large one {tag}", to=email, body="line of text\n" * 60_000)
    upstream.deliver(email, big)
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)
    page.get_by_test_id("message-row").filter(has_text=f"Grüße {tag}").click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(f"Grüße {tag}")

    # All headers: a table of every field, decoded, opened and closed by one button.
    show = page.get_by_test_id("show-headers")
    expect(show).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_test_id("all-headers")).to_be_hidden()
    show.click()
    expect(show).to_have_attribute("aria-expanded", "true")
    table = page.get_by_test_id("all-headers").get_by_role("table", name="All headers")
    expect(table.get_by_role("row")).to_have_count(8)
    custom = table.get_by_role("row").filter(has_text="X-Custom-Thing")
    expect(custom.get_by_role("rowheader")).to_have_text("X-Custom-Thing")
    expect(custom.get_by_role("cell")).to_have_text("kept as written")
    subject = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Subject"))
    expect(subject.get_by_role("cell")).to_have_text(f"Grüße {tag}")
    show.click()
    expect(page.get_by_test_id("all-headers")).to_be_hidden()
    expect(show).to_have_attribute("aria-expanded", "false")

    # The source: the message as stored, as text in the page.
    page.get_by_test_id("show-source").click()
    source = page.get_by_test_id("message-source-text")
    expect(source).to_contain_text("X-Custom-Thing: kept as written")
    expect(source).to_contain_text("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=")
    expect(source).to_contain_text("Body text.")
    expect(page.get_by_test_id("message-source").locator(".tools-note")).to_have_count(0)

    # Print: the button prints; the print stylesheet keeps the message, not the app.
    page.evaluate(
        "() => { window.print = () => { window.__printed = (window.__printed || 0) + 1; }; }"
    )
    page.get_by_test_id("print-message").click()
    assert page.evaluate("window.__printed") == 1
    page.emulate_media(media="print")
    for hidden in (".topbar", ".pane-nav", ".pane-list", ".reader-toolbar", ".reader-tools"):
        expect(page.locator(hidden).first).to_be_hidden()
    expect(page.get_by_test_id("reader-subject")).to_be_visible()
    expect(page.get_by_test_id("reader-from")).to_be_visible()
    expect(page.get_by_test_id("reader-text")).to_be_visible()
    page.emulate_media(media="screen")
    expect(page.locator(".topbar")).to_be_visible()

    # A large message shows the start of its source and says where to get the rest.
    page.get_by_test_id("message-row").filter(has_text=f"Large one {tag}").click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(f"Large one {tag}")
    page.get_by_test_id("show-source").click()
    note = page.get_by_test_id("message-source").locator(".tools-note")
    expect(note).to_have_text(
        "Only the first 512 KiB is shown; download the original message for all of it."
    )
    length = page.get_by_test_id("message-source-text").evaluate("e => e.textContent.length")
    assert 500_000 < length <= 512 * 1024


@pytest.mark.parametrize("width", [1280, 360])
def test_axe_finds_nothing_with_headers_and_source_open(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
    width: int,
) -> None:
    if not AXE_JS.is_file():
        pytest.skip(f"axe-core missing at {AXE_JS}: run `npm install --prefix tests/browser`")
    email, password = upstream.new_user()
    tag = secrets.token_hex(4)
    upstream.deliver(email, _raw(tag))
    mg = make_mailgate()
    session = open_browser(mg, width=width, height=740)
    session.page.add_init_script(path=str(AXE_JS))
    page = session.page
    login(page, mg, email, password)
    page.get_by_test_id("message-row").first.click()
    page.get_by_test_id("show-headers").click()
    page.get_by_test_id("show-source").click()
    expect(page.get_by_test_id("message-source-text")).to_contain_text("X-Custom-Thing")
    expect(page.get_by_test_id("all-headers").get_by_role("row")).to_have_count(8)
    assert _axe(page) == []
