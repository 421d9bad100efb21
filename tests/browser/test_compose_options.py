"""More compose options (issue 18): Cc and Bcc behind toggles, Send/Save/Discard always in
sight, files dropped onto the form uploaded as attachments, the upload limit shown
before a file is picked."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate, RunningSandbox
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


def test_the_upload_limit_is_shown_before_a_file_is_picked(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    upstream.deliver(
        email,
        b"From: Bob <bob@example.net>\r\nTo: "
        + email.encode()
        + b"\r\nSubject: Hello\r\nMessage-ID: <h2@example.net>\r\n\r\nHi\r\n",
    )
    # The limit comes from the server's configuration, through the session.
    mg = make_mailgate(
        limits={"upload_max_bytes": 3 * 1024 * 1024, "session_upload_max_bytes": 9 * 1024 * 1024}
    )
    page = open_browser(mg).page
    login(page, mg, email, password)
    page.get_by_test_id("compose-button").click()
    limit = page.get_by_test_id("compose-file-limit")
    expect(limit).to_be_visible()
    expect(limit).to_have_text("Up to 3 MB per file")
    expect(page.get_by_test_id("compose-file")).to_have_attribute(
        "aria-describedby", "compose-file-limit"
    )
    expect(page.get_by_test_id("compose-attachment")).to_have_count(0)
    # A larger file is refused at once, before any byte is sent.
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if "/api/uploads" in r.url else None)
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("compose-file").click()
    chooser.value.set_files(
        {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": b"x" * 3_200_000}
    )
    expect(page.get_by_test_id("compose-attachment")).to_contain_text("big.bin")
    expect(page.get_by_test_id("upload-too-large")).to_have_text("Larger than 3 MB: not attached.")
    page.get_by_test_id("compose-to").fill("dora@example.net")
    page.get_by_test_id("compose-send").click()
    expect(page.get_by_test_id("compose-error")).to_be_visible()
    assert uploads == []
    page.get_by_test_id("attachment-remove").click()
    expect(page.get_by_test_id("compose-attachment")).to_have_count(0)


def test_files_dropped_onto_compose_are_uploaded_as_attachments(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
    sandbox: RunningSandbox,
) -> None:
    email, password = upstream.new_user()
    upstream.deliver(
        email,
        b"From: Bob <bob@example.net>\r\nTo: "
        + email.encode()
        + b"\r\nSubject: Hello\r\nMessage-ID: <h3@example.net>\r\n\r\nHi\r\n",
    )
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, email, password)
    page.get_by_test_id("compose-button").click()
    subject = f"Dropped {secrets.token_hex(3)}"
    page.get_by_test_id("compose-to").fill("dora@example.net")
    page.get_by_test_id("compose-subject").fill(subject)
    # Two files dropped on the message text, as a desktop's file manager would.
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["first file\\n"], "notes.txt", { type: "text/plain" }));
          data.items.add(new File([new Uint8Array([0, 1, 2, 255])], "blob.bin"));
          const target = document.querySelector('[data-testid="compose-text"]');
          for (const type of ["dragenter", "dragover"]) {
            target.dispatchEvent(
              new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }),
            );
          }
          if (!document.querySelector("form.compose").classList.contains("compose-dropping")) {
            throw new Error("no drop feedback");
          }
          const init = { dataTransfer: data, bubbles: true, cancelable: true };
          const drop = new DragEvent("drop", init);
          target.dispatchEvent(drop);
          if (!drop.defaultPrevented) throw new Error("the browser would open the file");
        }"""
    )
    rows = page.get_by_test_id("compose-attachment")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("notes.txt")
    expect(rows.nth(1)).to_contain_text("blob.bin")
    expect(page.get_by_test_id("upload-progress")).to_have_count(0)
    expect(page.locator("form.compose.compose-dropping")).to_have_count(0)
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.text()
    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Subject"] == subject
    ]
    parts = list(message_from_bytes(mail.content, policy=policy.default).iter_attachments())
    assert [(p.get_filename(), p.get_content()) for p in parts] == [
        ("notes.txt", "first file\n"),
        ("blob.bin", bytes([0, 1, 2, 255])),
    ]
