"""Drafts in the bundled UI (issue 18): saving twice keeps one copy, a draft opens again
into compose with everything it held, and sending it removes it from Drafts."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from playwright.sync_api import Locator, Page

from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json

pytestmark = pytest.mark.browser

ROW = "message-row"


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
