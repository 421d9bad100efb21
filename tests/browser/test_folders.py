"""Folder management in the bundled UI: a folder is created (inside another), renamed and
deleted through the mailbox pane, the delete confirmed in the app's own dialog."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json

pytestmark = pytest.mark.browser


def _paths(page: Page) -> set[str]:
    answer = page_json(page, "/api/mailboxes")
    assert answer["status"] == 200
    return {b["path"] for b in answer["body"]["mailboxes"]}


def _folder(page: Page, name: str) -> Locator:
    return page.locator("#mailbox-list li").filter(
        has=page.get_by_test_id("mailbox").filter(has_text=name)
    )


def test_a_folder_is_created_renamed_and_deleted_through_the_ui(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    page.on("dialog", lambda d: pytest.fail(f"a native dialog opened: {d.message}"))
    login(page, mailgate, seeded_user.email, seeded_user.password)
    before = _paths(page)

    # New folder at the top level.
    page.get_by_test_id("folder-new").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(page.get_by_test_id("dialog-input")).to_be_focused()
    page.get_by_test_id("dialog-input").fill("Projects")
    page.keyboard.press("Enter")
    expect(dialog).to_have_count(0)
    expect(_folder(page, "Projects")).to_have_count(1)
    expect(page.get_by_test_id("mailbox").filter(has_text="Projects")).to_be_focused()
    expect(page.locator("#status")).to_contain_text("Projects")
    assert _paths(page) - before == {"Projects"}

    # A second one inside it.
    page.get_by_test_id("folder-new").click()
    page.get_by_test_id("dialog-input").fill("Plans")
    page.get_by_test_id("dialog-select").select_option(label="Projects")
    page.get_by_test_id("dialog-confirm").click()
    expect(_folder(page, "Plans")).to_have_count(1)
    (child,) = _paths(page) - before - {"Projects"}
    assert child.startswith("Projects") and child.endswith("Plans") and len(child) == 14

    # Renamed (stays inside its parent).
    _folder(page, "Plans").get_by_test_id("folder-menu-toggle").click()
    _folder(page, "Plans").get_by_test_id("folder-rename").click()
    expect(page.get_by_test_id("dialog-input")).to_have_value("Plans")
    expect(page.get_by_test_id("dialog-select")).to_have_value(
        page.get_by_test_id("mailbox").filter(has_text="Projects").get_attribute("data-id") or ""
    )
    page.get_by_test_id("dialog-input").fill("Roadmap")
    page.get_by_test_id("dialog-confirm").click()
    expect(_folder(page, "Roadmap")).to_have_count(1)
    expect(_folder(page, "Plans")).to_have_count(0)
    assert _paths(page) - before == {"Projects", child.replace("Plans", "Roadmap")}

    # Delete asks in the app's dialog; cancelling keeps the folder.
    _folder(page, "Roadmap").get_by_test_id("folder-menu-toggle").click()
    _folder(page, "Roadmap").get_by_test_id("folder-delete").click()
    expect(dialog).to_contain_text("Roadmap")
    expect(page.get_by_test_id("dialog-cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert child.replace("Plans", "Roadmap") in _paths(page)
    _folder(page, "Roadmap").get_by_test_id("folder-menu-toggle").click()
    _folder(page, "Roadmap").get_by_test_id("folder-delete").click()
    page.get_by_test_id("dialog-confirm").click()
    expect(_folder(page, "Roadmap")).to_have_count(0)
    assert _paths(page) - before == {"Projects"}
    # Focus stays in the navigation, never on <body>.
    assert page.evaluate("document.activeElement !== document.body")

    # Special folders have no menu.
    inbox = page.locator("#mailbox-list li").filter(has=page.locator('[data-role="inbox"]'))
    expect(inbox.get_by_test_id("folder-menu")).to_have_count(0)
