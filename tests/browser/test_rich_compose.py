"""Rich-text compose (issue 18): chosen in Settings, an HTML message with a list written
with the editor's own DOM operations (under the CSP with Trusted Types enforced) arrives
at aiosmtpd as multipart/alternative with a sanitized HTML part and a faithful text part."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import expect

from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json

pytestmark = pytest.mark.browser


def test_an_html_message_with_a_list_goes_out_as_multipart_alternative(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    sandbox: RunningSandbox,
) -> None:
    mg = make_mailgate()
    session = open_browser(mg)
    page = session.page
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Trusted Type" in m.text else None)
    login(page, mg, seeded_user.email, seeded_user.password)

    # Plain text is the default; HTML is a preference chosen in Settings.
    page.get_by_test_id("compose-button").click()
    expect(page.get_by_test_id("compose-text")).to_be_visible()
    expect(page.get_by_test_id("compose-rich")).to_have_count(0)
    page.get_by_test_id("compose-discard").click()
    page.get_by_test_id("prefs-button").click()
    page.get_by_test_id("prefs-compose-format").select_option("html")
    with page.expect_response(lambda r: r.url.endswith("/api/preferences")) as saved:
        page.get_by_test_id("prefs-save").click()
    assert saved.value.status == 200
    prefs = page_json(page, "/api/preferences")["body"]["preferences"]
    assert prefs["compose_format"] == "html"
    page.get_by_test_id("prefs-close").click()

    subject = f"Shopping {secrets.token_hex(3)}"
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-to").fill("dora@example.net")
    page.get_by_test_id("compose-subject").fill(subject)
    editor = page.get_by_test_id("compose-rich")
    editor.click()
    page.keyboard.type("Please buy")
    page.keyboard.press("Enter")
    page.keyboard.type("apples")
    page.keyboard.press("Shift+Home")
    page.get_by_test_id("rich-bullets").click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("pears")
    expect(editor.locator("ul > li")).to_have_count(2)
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.text()

    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Subject"] == subject
    ]
    msg = message_from_bytes(mail.content, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    text_part, html_part = list(msg.iter_parts())
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    assert "<ul><li>apples</li><li>pears</li></ul>" in html.replace("\n", "")
    assert "Please buy" in html
    text = text_part.get_content().replace("\r\n", "\n")
    assert "Please buy" in text
    assert "* apples\n* pears" in text
    assert violations == []
