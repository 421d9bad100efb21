"""Forward as attachment in the bundled UI (issue 18): from the reader, compose opens with
the message attached whole; sent, it arrives at aiosmtpd as a message/rfc822 part equal
byte for byte to the original (Dovecot: tests/integration/test_forward_attachment.py)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import expect

from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import Mailbox, OpenBrowser, login

pytestmark = pytest.mark.browser


def test_forward_as_attachment_sends_the_original_whole(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    sandbox: RunningSandbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    original_subject = seeded_user.subjects["invoice"]
    page.get_by_test_id("message-row").filter(has_text=original_subject).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(original_subject)
    page.get_by_test_id("forward-attachment").click()

    attachment = page.get_by_test_id("compose-attachment")
    expect(attachment).to_have_count(1)
    expect(attachment).to_contain_text(f"{original_subject}.eml")
    expect(page.get_by_test_id("upload-progress")).to_have_count(0)
    expect(page.get_by_test_id("compose-subject")).to_have_value(f"Fwd: {original_subject}")
    subject = f"Fwd: {original_subject} {secrets.token_hex(3)}"
    page.get_by_test_id("compose-subject").fill(subject)
    page.get_by_test_id("compose-to").fill("Dora <dora@example.net>")
    page.get_by_test_id("compose-text").fill("Have a look at this one.")
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.text()
    sent_body = sent.value.json()

    # The original, as the server stores it, fetched from inside the page.
    original = base64.b64decode(
        page.evaluate(
            """async (subject) => {
              const boxes = (await (await fetch("/api/mailboxes")).json()).mailboxes;
              const inbox = boxes.find((b) => b.role === "inbox");
              const listed = await fetch(`/api/mailboxes/${inbox.id}/messages?limit=200`);
              const m = (await listed.json()).messages.find((x) => x.subject === subject);
              const raw = await fetch(`/api/messages/${m.id}/raw`);
              const bytes = new Uint8Array(await raw.arrayBuffer());
              let s = "";
              for (const b of bytes) s += String.fromCharCode(b);
              return btoa(s);
            }""",
            original_subject,
        )
    )
    (mail,) = [
        m
        for m in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(m.content, policy=policy.default)["Message-ID"]
        == sent_body["message_id_header"]
    ]
    msg = message_from_bytes(mail.content, policy=policy.default)
    (part,) = list(msg.iter_attachments())
    assert part.get_content_type() == "message/rfc822"
    assert part.get_filename() == f"{original_subject}.eml"
    boundary = msg.get_boundary()
    assert boundary
    (segment,) = [
        s
        for s in mail.content.split(b"\r\n--" + boundary.encode())
        if b"Content-Type: message/rfc822" in s.split(b"\r\n\r\n")[0]
    ]
    # The same bytes, with the CRLF line ends of mail on the wire (pymap gives back the LF
    # ends it stored the message with).
    canonical = original.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert segment.split(b"\r\n\r\n", 1)[1] == canonical
    assert "Have a look at this one." in msg.get_body(("plain",)).get_content()
