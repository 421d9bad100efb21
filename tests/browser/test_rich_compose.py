"""Rich-text compose (issue 18): chosen in Settings, an HTML message with a list and a
pasted image, written with the editor's own DOM operations (under the CSP with Trusted
Types enforced), arrives at aiosmtpd as multipart/alternative with a sanitized HTML part
(the image a multipart/related part named by its cid) and a faithful text part."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import expect

from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5d0b1a50000000049454e44ae426082"
)


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
    # A pasted image is uploaded and shown; it goes out as a related part.
    page.evaluate(
        """(hex) => {
          const bytes = new Uint8Array(hex.match(/../g).map((b) => parseInt(b, 16)));
          const data = new DataTransfer();
          data.items.add(new File([bytes], "dot.png", { type: "image/png" }));
          const editor = document.querySelector('[data-testid="compose-rich"]');
          editor.dispatchEvent(
            new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }),
          );
        }""",
        PNG.hex(),
    )
    expect(editor.locator('img[data-upload]:not([data-upload="pending"])')).to_have_count(1)
    page.keyboard.press("End")
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
    text_part, related = list(msg.iter_parts())
    assert text_part.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, picture = list(related.iter_parts())
    assert html_part.get_content_type() == "text/html"
    assert picture.get_content_type() == "image/png"
    assert picture.get_content() == PNG
    html = html_part.get_content()
    assert f'<img src="cid:{str(picture["Content-ID"]).strip("<>")}"' in html
    assert "<ul><li>apples</li><li>pears</li></ul>" in html.replace("\n", "")
    assert "Please buy" in html
    text = text_part.get_content().replace("\r\n", "\n")
    assert "Please buy" in text
    assert "* apples\n* pears" in text
    assert violations == []

    # A reply written in HTML quotes the message in a <blockquote>; its text part in "> ".
    page.get_by_test_id("message-row").filter(has_text=seeded_user.subjects["report"]).click()
    page.get_by_test_id("reply").click()
    quote = page.get_by_test_id("compose-rich").locator("blockquote")
    expect(quote).to_have_count(1)
    expect(quote).not_to_have_text("")
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.text()
    reply_subject = f"Re: {seeded_user.subjects['report']}"
    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Subject"] == reply_subject
        and m.auth_login == seeded_user.email
    ]
    reply = message_from_bytes(mail.content, policy=policy.default)
    assert "<blockquote>" in reply.get_body(("html",)).get_content()
    assert "\n> " in reply.get_body(("plain",)).get_content().replace("\r\n", "\n")
