"""Drafts in the bundled UI (issue 18): saving twice keeps one copy, a draft opens again
into compose with everything it held, and sending it removes it from Drafts."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json, put_preferences

pytestmark = pytest.mark.browser

ROW = "message-row"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5d0b1a50000000049454e44ae426082"
)


def _row(page: Page, subject: str) -> Locator:
    return page.get_by_test_id(ROW).filter(has_text=subject)


def _mailbox(page: Page, role: str) -> None:
    page.locator(f'[data-testid="mailbox"][data-role="{role}"]').click()


def _received(sandbox: RunningSandbox, subject: str) -> list[EmailMessage]:
    found = []
    for mail in list(sandbox.sandbox.smtp.received):
        msg = message_from_bytes(mail.content, policy=policy.default)
        if msg["Subject"] == subject:
            found.append(msg)
    return found


def _drafts_with(page: Page, subject: str) -> list[dict]:
    boxes = page_json(page, "/api/mailboxes")["body"]["mailboxes"]
    drafts = next(b for b in boxes if b["role"] == "drafts")
    listed = page_json(page, f"/api/mailboxes/{drafts['id']}/messages?limit=200")["body"]
    return [m for m in listed["messages"] if m["subject"] == subject]


def test_saving_a_draft_twice_leaves_one_copy(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    subject = f"Plans {secrets.token_hex(3)}"
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-to").fill("Dora <dora@example.net>")
    page.get_by_test_id("compose-subject").fill(subject)
    page.get_by_test_id("compose-text").fill("first words")
    with page.expect_response(lambda r: r.url.endswith("/api/drafts")) as first:
        page.get_by_test_id("compose-draft").click()
    assert first.value.status == 201
    page.get_by_test_id("compose-text").fill("first words, and more")
    with page.expect_response(lambda r: r.url.endswith("/api/drafts")) as second:
        page.get_by_test_id("compose-draft").click()
    assert second.value.status == 201
    assert "replaces" in (second.value.request.post_data_json or {})
    (only,) = _drafts_with(page, subject)
    assert only["id"] == second.value.json()["id"]


def test_a_draft_opens_again_into_compose_and_sending_removes_it(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    sandbox: RunningSandbox,
    tmp_path: Path,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    subject = f"Re: Lunch plans {secrets.token_hex(3)}"
    attachment = tmp_path / "menu.txt"
    attachment.write_bytes("soup ✓, bread\n".encode() * 30)

    # Reply (so the draft has a thread), with an attachment; save twice.
    page.get_by_test_id(ROW).filter(has_text="Lunch plans").click()
    page.get_by_test_id("reply").click()
    page.get_by_test_id("compose-show-cc").click()
    page.get_by_test_id("compose-cc").fill("Carl <carl@example.net>")
    page.get_by_test_id("compose-show-bcc").click()
    page.get_by_test_id("compose-bcc").fill("boss@example.net")
    page.get_by_test_id("compose-subject").fill(subject)
    page.get_by_test_id("compose-text").fill("Half a thought")
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("compose-file").click()
    chooser.value.set_files(str(attachment))
    expect(page.get_by_test_id("upload-progress")).to_have_count(0)
    for _ in range(2):
        with page.expect_response(lambda r: r.url.endswith("/api/drafts")) as saved:
            page.get_by_test_id("compose-draft").click()
        assert saved.value.status == 201
    # Leaving with nothing unsaved just closes the form.
    _mailbox(page, "drafts")
    expect(page.get_by_test_id("compose-send")).to_have_count(0)

    # Drafts holds one copy; opening it offers "Continue editing".
    expect(_row(page, subject)).to_have_count(1)
    _row(page, subject).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    expect(page.get_by_test_id("reply")).to_be_visible()
    page.get_by_test_id("edit-draft").click()
    expect(page.get_by_test_id("compose-to")).to_have_value("Bob <bob@example.net>")
    expect(page.get_by_test_id("compose-cc")).to_have_value("Carl <carl@example.net>")
    expect(page.get_by_test_id("compose-bcc")).to_have_value("boss@example.net")
    # A draft with Cc and Bcc shows both fields at once, with no toggle left.
    expect(page.get_by_test_id("compose-cc")).to_be_visible()
    expect(page.get_by_test_id("compose-bcc")).to_be_visible()
    expect(page.get_by_test_id("compose-show-cc")).to_have_count(0)
    expect(page.get_by_test_id("compose-show-bcc")).to_have_count(0)
    expect(page.get_by_test_id("compose-subject")).to_have_value(subject)
    expect(page.get_by_test_id("compose-text")).to_have_value("Half a thought\n")
    expect(page.get_by_test_id("compose-attachment")).to_contain_text("menu.txt")

    # Finish and send: the message goes out whole, in its thread, and leaves Drafts.
    page.get_by_test_id("compose-text").fill("A whole thought.")
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.status
    assert "warning" not in sent.value.json()
    expect(page.get_by_test_id("compose-send")).to_have_count(0)
    [mail] = _received(sandbox, subject)
    assert "bob@example.net" in mail["To"] and "carl@example.net" in mail["Cc"]
    assert mail["In-Reply-To"] and mail["References"]
    [part] = list(mail.iter_attachments())
    assert part.get_filename() == "menu.txt"
    assert part.get_payload(decode=True) == attachment.read_bytes()
    expect(_row(page, subject)).to_have_count(0)  # the Drafts list on show
    assert _drafts_with(page, subject) == []
    _mailbox(page, "sent")
    expect(_row(page, subject)).to_have_count(1)


def test_drafts_save_themselves_and_leaving_saves_too(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    subject = f"Idea {secrets.token_hex(3)}"
    saves: list[dict] = []
    page.on(
        "requestfinished",
        lambda r: saves.append(r.post_data_json) if r.url.endswith("/api/drafts") else None,
    )

    # A few seconds after the typing stops, the draft saves itself; again after more
    # typing, replacing the first copy.
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-subject").fill(subject)
    with page.expect_response(lambda r: r.url.endswith("/api/drafts"), timeout=10_000) as first:
        page.get_by_test_id("compose-text").type("one", delay=50)
    assert first.value.status == 201
    expect(page.get_by_test_id("compose-status")).to_have_text("Draft saved.")
    with page.expect_response(lambda r: r.url.endswith("/api/drafts"), timeout=10_000) as second:
        page.get_by_test_id("compose-text").type(" two", delay=50)
    assert second.value.status == 201
    assert second.value.request.post_data_json["replaces"] == first.value.json()["id"]
    (only,) = _drafts_with(page, subject)
    assert only["id"] == second.value.json()["id"]
    assert [s["text"] for s in saves] == ["one", "one two"]  # no save without a change

    # Leaving compose with unsaved typing saves it first, then goes where it was asked.
    page.get_by_test_id("compose-text").type(" three")
    with page.expect_response(lambda r: r.url.endswith("/api/drafts")) as left:
        _mailbox(page, "drafts")
    assert left.value.status == 201
    expect(page.get_by_test_id("compose-send")).to_have_count(0)
    expect(_row(page, subject)).to_have_count(1)
    (only,) = _drafts_with(page, subject)
    assert only["id"] == left.value.json()["id"]
    assert page_json(page, f"/api/messages/{only['id']}?peek=1")["body"]["text"].startswith(
        "one two three"
    )

    # Discarding a draft taken up again asks, then moves it to Trash.
    _row(page, subject).click()
    page.get_by_test_id("edit-draft").click()
    expect(page.get_by_test_id("compose-subject")).to_have_value(subject)
    page.get_by_test_id("compose-discard").click()
    # The app's own dialog says where the saved draft goes.
    expect(page.get_by_test_id("confirm-dialog").get_by_role("heading")).to_contain_text("Trash")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("compose-send")).to_have_count(0)
    expect(_row(page, subject)).to_have_count(0)
    assert _drafts_with(page, subject) == []
    _mailbox(page, "trash")
    expect(_row(page, subject)).to_have_count(1)


def test_an_untouched_forward_saves_nothing_and_signing_out_saves_the_typing(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    saves: list[str] = []
    page.on("request", lambda r: saves.append(r.url) if r.url.endswith("/api/drafts") else None)

    # A forward brings its files along: that alone is no change worth a draft.
    page.get_by_test_id(ROW).filter(has_text=seeded_user.subjects["invoice"]).click()
    page.get_by_test_id("forward").click()
    expect(page.get_by_test_id("compose-attachment")).to_contain_text("invoice.pdf")
    expect(page.get_by_test_id("upload-progress")).to_have_count(0)
    page.wait_for_timeout(4_000)  # longer than the autosave's idle time
    _mailbox(page, "inbox")
    expect(page.get_by_test_id("compose-send")).to_have_count(0)
    assert saves == []

    # Typing, then signing out at once: the draft is saved before the session ends.
    subject = f"Unfinished {secrets.token_hex(3)}"
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-subject").fill(subject)
    page.get_by_test_id("compose-text").fill("to be continued")
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-email")).to_be_visible()
    assert len(saves) == 1
    login(page, mg, seeded_user.email, seeded_user.password)
    (saved,) = _drafts_with(page, subject)
    view = page_json(page, f"/api/messages/{saved['id']}?peek=1")["body"]
    assert view["text"].startswith("to be continued")


def test_closing_the_page_saves_the_typing(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    subject = f"Reloaded {secrets.token_hex(3)}"
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-subject").fill(subject)
    page.get_by_test_id("compose-text").fill("typed just before the reload")
    page.reload()  # before the autosave's idle time is up
    page.get_by_test_id("message-row").first.wait_for()  # the session lives on
    deadline = time.monotonic() + 10
    while not (found := _drafts_with(page, subject)) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    (saved,) = found
    view = page_json(page, f"/api/messages/{saved['id']}?peek=1")["body"]
    assert view["text"].startswith("typed just before the reload")


def test_a_rich_draft_resumes_in_the_html_editor_with_its_html(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    sandbox: RunningSandbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    put_preferences(page, {"compose_format": "html"})
    page.reload()
    page.get_by_test_id(ROW).first.wait_for()
    subject = f"Rich plans {secrets.token_hex(3)}"
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-to").fill("dora@example.net")
    page.get_by_test_id("compose-subject").fill(subject)
    editor = page.get_by_test_id("compose-rich")
    editor.click()
    page.keyboard.type("Bring")
    page.evaluate(
        """(hex) => {
          const bytes = new Uint8Array(hex.match(/../g).map((b) => parseInt(b, 16)));
          const data = new DataTransfer();
          data.items.add(new File([bytes], "dot.png", { type: "image/png" }));
          document.querySelector('[data-testid="compose-rich"]').dispatchEvent(
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
    with page.expect_response(lambda r: r.url.endswith("/api/drafts")) as saved:
        page.get_by_test_id("compose-draft").click()
    assert saved.value.status == 201

    # Plain text is the preference again: the HTML draft still resumes in HTML.
    put_preferences(page, {"compose_format": "text"})
    page.reload()
    page.get_by_test_id(ROW).first.wait_for()
    _mailbox(page, "drafts")
    _row(page, subject).click()
    page.get_by_test_id("edit-draft").click()
    editor = page.get_by_test_id("compose-rich")
    expect(editor).to_be_visible()
    expect(page.get_by_test_id("compose-text")).to_have_count(0)
    expect(editor.locator("ul > li")).to_have_text(["apples"])
    expect(editor).to_contain_text("Bring")
    # The image is there again, uploaded anew as an inline image.
    expect(editor.locator('img[data-upload]:not([data-upload="pending"])')).to_have_count(1)
    # Nothing changed yet: no autosave (the images uploaded again are no change).
    saves: list[str] = []
    page.on("request", lambda r: saves.append(r.url) if r.url.endswith("/api/drafts") else None)
    page.wait_for_timeout(3500)
    assert saves == []

    editor.locator("ul > li").click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("pears")
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.text()
    [mail] = _received(sandbox, subject)
    assert mail.get_content_type() == "multipart/alternative"
    html_part = mail.get_body(("html",))
    html = html_part.get_content().replace("\n", "")
    assert "<ul><li>apples</li><li>pears</li></ul>" in html
    assert "Bring" in html
    (picture,) = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert picture.get_content() == PNG
    assert f'src="cid:{str(picture["Content-ID"]).strip("<>")}"' in html
    assert "* apples\n* pears" in mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    _mailbox(page, "drafts")
    expect(_row(page, subject)).to_have_count(0)


def test_a_forward_sent_from_its_draft_marks_the_original_forwarded(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    sandbox: RunningSandbox,
) -> None:
    """Forward, save as a draft, close; later "Continue editing" and send: the original
    shows the forwarded mark, and the message sent carries no reference to it."""
    mg = make_mailgate()
    page = open_browser(mg).page
    login(page, mg, seeded_user.email, seeded_user.password)
    subject = f"Fwd: Lunch plans {secrets.token_hex(3)}"
    _row(page, "Lunch plans").click()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Lunch plans")
    page.get_by_test_id("forward").click()
    page.get_by_test_id("compose-to").fill("Dora <dora@example.net>")
    page.get_by_test_id("compose-subject").fill(subject)
    with page.expect_response(lambda r: r.url.endswith("/api/drafts")) as saved:
        page.get_by_test_id("compose-draft").click()
    assert saved.value.status == 201
    _mailbox(page, "drafts")
    expect(page.get_by_test_id("compose-send")).to_have_count(0)

    _row(page, subject).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    page.get_by_test_id("edit-draft").click()
    expect(page.get_by_test_id("compose-subject")).to_have_value(subject)
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status == 200, sent.value.status
    assert (sent.value.request.post_data_json or {})["thread"]["forwarded"]
    [mail] = _received(sandbox, subject)
    assert not [k for k in mail if k.lower().startswith("x-mailgate")]
    assert _drafts_with(page, subject) == []

    _mailbox(page, "inbox")
    expect(_row(page, "Lunch plans").get_by_test_id("row-forwarded")).to_have_count(1)
    expect(_row(page, "Quarterly report").get_by_test_id("row-forwarded")).to_have_count(0)
