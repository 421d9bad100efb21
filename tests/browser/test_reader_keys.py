"""Keys for the open message's actions (issue 17): s flags, U marks unread, I marks
read, ! marks as junk, # (or Delete) deletes; each through the reader's own button, so
it announces and moves focus the same way. Keys typed into a field do nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Mailbox, SignedIn, page_json

pytestmark = pytest.mark.browser


def _roles(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    boxes = page_json(page, "/api/mailboxes")["body"]["mailboxes"]
    return {b["role"]: b["id"] for b in boxes if b["role"]}


def _subjects(page, mailbox_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    body = page_json(page, f"/api/mailboxes/{mailbox_id}/messages")["body"]
    return {m["subject"] for m in body["messages"]}


def test_action_keys_on_the_open_message(signed_in: SignedIn, seeded_user: Mailbox):
    session = signed_in(seeded_user)
    page = session.page
    rows = page.get_by_test_id("message-row")
    lunch = seeded_user.subjects["lunch"]
    rows.filter(has_text=lunch).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(lunch)
    page.get_by_test_id("reader-subject").focus()

    page.keyboard.press("s")
    expect(page.get_by_test_id("flag-toggle")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Shift+U")
    expect(page.get_by_test_id("mark-read")).to_be_visible()
    expect(rows.filter(has_text=lunch)).to_have_class(re.compile(r"\bunread\b"))
    page.keyboard.press("Shift+I")
    expect(page.get_by_test_id("mark-unread")).to_be_visible()

    # Typed into the search field, the same keys are just text.
    page.get_by_test_id("search-input").fill("")
    page.get_by_test_id("search-input").press_sequentially("s#!")
    expect(page.get_by_test_id("search-input")).to_have_value("s#!")
    expect(page.get_by_test_id("reader-subject")).to_have_text(lunch)
    page.get_by_test_id("search-input").fill("")
    page.get_by_test_id("reader-subject").focus()

    page.keyboard.press("!")
    expect(rows.filter(has_text=lunch)).to_have_count(0)
    roles = _roles(page)
    assert lunch in _subjects(page, roles["junk"])

    report = seeded_user.subjects["report"]
    rows.filter(has_text=report).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(report)
    page.get_by_test_id("reader-subject").focus()
    page.keyboard.press("#")
    expect(rows.filter(has_text=report)).to_have_count(0)
    assert report in _subjects(page, _roles(page)["trash"])
    assert page.evaluate("document.activeElement !== document.body")
