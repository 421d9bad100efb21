"""Undo after "Mark as junk" in the bundled UI (issue 17), on Dovecot (which keeps the $Junk
keyword that spam filters learn from): from the reader and from a selection, Undo puts the
messages back in the INBOX list and clears $Junk again."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Page, expect

from mailgate.mail.ids import decode_message_id
from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json
from tests.conftest import Upstream, _combined_ca
from tests.servers.dovecot import Dovecot

pytestmark = pytest.mark.browser
ROW = "message-row"


@pytest.fixture
def upstream(request: pytest.FixtureRequest, sandbox: RunningSandbox) -> Upstream:
    """Dovecot for IMAP (it keeps keywords; pymap does not), the sandbox for SMTP."""
    dc = request.getfixturevalue("dovecot")
    settings = sandbox.settings()
    settings["imap"] = {"host": dc.host, "port": dc.port, "security": "tls"}
    settings["upstream"] = {
        "ca_file": _combined_ca(dc.ca_file, sandbox.ca_file),
        "allow_any_port": True,
    }
    return Upstream("dovecot", settings, dc.add_user, dc.deliver)


def _keywords(dovecot: Dovecot, user: Mailbox, message: str) -> set[str]:
    """The message's keywords as Dovecot has them (read by a client of our own, in a
    thread: Playwright's sync API owns this one's event loop)."""
    ref = decode_message_id(message)

    async def read() -> set[str]:
        client = await dovecot.open_client(user.email, user.password)
        try:
            (summary,) = await client.summaries(ref.mailbox, [ref.uid])
            return {f for f in summary.flags if f.startswith("$")}
        finally:
            await client.logout()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result(timeout=30)


def _in(page: Page, role: str) -> dict[str, str]:
    boxes = page_json(page, "/api/mailboxes")["body"]["mailboxes"]
    box = next((b for b in boxes if b["role"] == role), None)
    if box is None:
        return {}
    body = page_json(page, f"/api/mailboxes/{box['id']}/messages")["body"]
    return {m["subject"]: m["id"] for m in body["messages"]}


def test_undo_after_mark_as_junk_puts_it_back_and_clears_the_flag(
    mailgate: RunningMailgate,
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    dovecot: Dovecot,
) -> None:
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)
    toast = page.get_by_test_id("undo-toast")

    # From the reader: the toast offers Undo.
    page.get_by_test_id(ROW).filter(has_text="Weekly newsletter").click()
    expect(page.get_by_test_id("reader-subject")).to_have_text("Weekly newsletter")
    page.get_by_test_id("junk").click()
    expect(rows.filter(has_text="Weekly newsletter")).to_have_count(0)
    expect(toast).to_contain_text("Moved to Junk.")
    junked = _in(page, "junk")
    assert list(junked) == ["Weekly newsletter"]
    assert _keywords(dovecot, seeded_user, junked["Weekly newsletter"]) == {"$Junk"}
    page.get_by_test_id("undo").click()
    expect(rows.filter(has_text="Weekly newsletter")).to_have_count(1)
    expect(rows).to_have_count(5)
    assert _in(page, "junk") == {}
    back = _in(page, "inbox")["Weekly newsletter"]
    expect(page.locator(f'[data-testid="{ROW}"][data-id="{back}"]')).to_have_count(1)
    assert _keywords(dovecot, seeded_user, back) == set()

    # From a selection, with "!" and "z".
    checks = page.get_by_test_id("row-select")
    checks.nth(0).click()
    checks.nth(1).click()
    chosen = sorted(page.locator(".message-row .row-subject").all_inner_texts()[:2])
    page.keyboard.press("!")
    expect(rows).to_have_count(3)
    expect(toast).to_contain_text("2 messages marked as junk.")
    junked = _in(page, "junk")
    assert sorted(junked) == chosen
    assert all(_keywords(dovecot, seeded_user, i) == {"$Junk"} for i in junked.values())
    page.keyboard.press("z")
    expect(rows).to_have_count(5)
    assert _in(page, "junk") == {}
    inbox = _in(page, "inbox")
    assert all(_keywords(dovecot, seeded_user, inbox[s]) == set() for s in chosen)
