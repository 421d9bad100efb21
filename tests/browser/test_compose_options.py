"""More compose options (issue 18): Cc and Bcc behind toggles, Send/Save/Discard always in
sight, files dropped onto the form uploaded as attachments, the upload limit shown
before a file is picked."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser, login
from tests.conftest import Upstream

pytestmark = pytest.mark.browser


def _in_viewport(page: Page, testid: str) -> bool:
    return bool(
        page.evaluate(
            """(testid) => {
              const r = document.querySelector(`[data-testid="${testid}"]`).getBoundingClientRect();
              return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
                && r.left >= 0 && r.right <= window.innerWidth;
            }""",
            testid,
        )
    )


def test_cc_and_bcc_are_hidden_until_asked_for_and_shown_for_reply_all(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    subject = f"Team lunch {secrets.token_hex(3)}"
    msg = EmailMessage()
    msg["From"] = "Bob <bob@example.net>"
    msg["To"] = email
    msg["Cc"] = "Carol <carol@example.net>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<{secrets.token_hex(8)}@example.net>"
    msg.set_content("Who is in?\n")
    upstream.deliver(email, msg.as_bytes())
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)

    # A new message: To only; "Cc" and "Bcc" reveal their fields, focused.
    page.get_by_test_id("compose-button").click()
    expect(page.get_by_test_id("compose-to")).to_be_visible()
    expect(page.get_by_test_id("compose-cc")).to_be_hidden()
    expect(page.get_by_test_id("compose-bcc")).to_be_hidden()
    page.get_by_test_id("compose-show-cc").click()
    expect(page.get_by_test_id("compose-cc")).to_be_visible()
    expect(page.get_by_test_id("compose-cc")).to_be_focused()
    expect(page.get_by_test_id("compose-show-cc")).to_have_count(0)
    expect(page.get_by_test_id("compose-bcc")).to_be_hidden()
    page.get_by_test_id("compose-show-bcc").click()
    expect(page.get_by_test_id("compose-bcc")).to_be_visible()
    expect(page.get_by_test_id("compose-bcc")).to_be_focused()
    page.get_by_test_id("compose-discard").click()
    expect(page.get_by_test_id("compose-send")).to_have_count(0)

    # Reply all to a message with Cc: the Cc field is there at once, Bcc still behind its toggle.
    page.get_by_test_id("message-row").filter(has_text=subject).click()
    page.get_by_test_id("reply-all").click()
    expect(page.get_by_test_id("compose-cc")).to_be_visible()
    expect(page.get_by_test_id("compose-cc")).to_have_value("Carol <carol@example.net>")
    expect(page.get_by_test_id("compose-show-cc")).to_have_count(0)
    expect(page.get_by_test_id("compose-bcc")).to_be_hidden()
    expect(page.get_by_test_id("compose-show-bcc")).to_be_visible()


def test_send_save_and_discard_stay_in_sight_while_a_long_body_scrolls(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    upstream.deliver(
        email,
        b"From: Bob <bob@example.net>\r\nTo: "
        + email.encode()
        + b"\r\nSubject: Hello\r\nMessage-ID: <h1@example.net>\r\n\r\nHi\r\n",
    )
    mg = make_mailgate()
    page = open_browser(mg, width=900, height=420).page
    login(page, mg, email, password)
    page.get_by_test_id("compose-button").click()
    text = page.get_by_test_id("compose-text")
    text.fill("\n".join(f"Line {n} of a long letter." for n in range(200)))
    text.press("Control+End")
    page.keyboard.type("The end.")
    # The form is taller than the pane, and the pane scrolled, yet the buttons are in view.
    tall = page.evaluate(
        """() => {
          const pane = document.getElementById("reader-pane");
          pane.scrollTop = pane.scrollHeight;
          return pane.scrollHeight > pane.clientHeight;
        }"""
    )
    page.evaluate("() => { const p = document.getElementById('reader-pane'); p.scrollTop = 0; }")
    assert tall
    for testid in ("compose-send", "compose-draft", "compose-discard"):
        assert _in_viewport(page, testid), testid
    page.evaluate("() => { const p = document.getElementById('reader-pane'); p.scrollTop = 300; }")
    for testid in ("compose-send", "compose-draft", "compose-discard"):
        assert _in_viewport(page, testid), testid
    page.get_by_test_id("compose-send").click(trial=True)
