"""The app's own confirmation dialog (dialog.js) replaces window.confirm: a modal that traps
focus, cancels on Escape, gives focus back to its opener, and fits a 360 px screen in RTL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, login

pytestmark = pytest.mark.browser

CATALOGS = Path(__file__).resolve().parents[2] / "mailgate" / "ui" / "static" / "i18n"


def _catalog(lang: str) -> dict[str, str]:
    data = json.loads((CATALOGS / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _no_native_dialogs(page: Page) -> None:
    page.on("dialog", lambda d: pytest.fail(f"a native dialog opened: {d.message}"))


def test_discarding_a_draft_asks_in_the_apps_own_dialog(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    _no_native_dialogs(page)
    login(page, mailgate, seeded_user.email, seeded_user.password)
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-subject").fill("Half written")
    discard = page.get_by_test_id("compose-discard")
    discard.click()

    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_js_property("open", True)
    assert page.evaluate("document.querySelector('dialog').matches(':modal')")
    expect(dialog.get_by_role("heading")).to_have_text("Discard this message?")
    heading_id = dialog.get_by_role("heading").get_attribute("id") or ""
    expect(dialog).to_have_attribute("aria-labelledby", heading_id)
    # Destructive: the safe choice has the focus; Tab and Shift+Tab stay inside.
    cancel = page.get_by_test_id("dialog-cancel")
    confirm = page.get_by_test_id("dialog-confirm")
    expect(cancel).to_be_focused()
    expect(cancel).to_have_text("Keep editing")
    expect(confirm).to_have_text("Discard")
    for _ in range(3):
        page.keyboard.press("Tab")
        expect(confirm).to_be_focused()
        page.keyboard.press("Tab")
        expect(cancel).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(confirm).to_be_focused()

    # Escape cancels: the draft stays, focus is back on the button that asked.
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(discard).to_be_focused()
    expect(page.get_by_test_id("compose-subject")).to_have_value("Half written")

    # The cancel button does the same.
    discard.click()
    cancel.click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("compose-subject")).to_have_value("Half written")

    # Confirmed: the form closes.
    discard.click()
    confirm.click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("compose-subject")).to_have_count(0)


def test_the_dialog_fits_a_narrow_screen_right_to_left(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate, width=360, height=640).page
    _no_native_dialogs(page)
    page.goto(mailgate.url + "/")
    page.get_by_test_id("login-language").select_option("ar")
    page.get_by_test_id("login-email").fill(seeded_user.email)
    page.get_by_test_id("login-password").fill(seeded_user.password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("message-row").first.wait_for()
    ar = _catalog("ar")
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-subject").fill("x")
    page.get_by_test_id("compose-discard").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog.get_by_role("heading")).to_have_text(ar["compose.confirmDiscard"])
    expect(page.get_by_test_id("dialog-cancel")).to_have_text(ar["dialog.keepEditing"])
    expect(page.get_by_test_id("dialog-confirm")).to_have_text(ar["dialog.discard"])
    assert dialog.evaluate("el => getComputedStyle(el).direction") == "rtl"
    box = dialog.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    for button in ("dialog-cancel", "dialog-confirm"):
        b = page.get_by_test_id(button).bounding_box()
        assert b is not None
        assert b["x"] >= box["x"] and b["x"] + b["width"] <= box["x"] + box["width"]
    # In RTL the confirm button (last in the row) sits to the left of cancel.
    cancel_box = page.get_by_test_id("dialog-cancel").bounding_box()
    confirm_box = page.get_by_test_id("dialog-confirm").bounding_box()
    assert cancel_box and confirm_box and confirm_box["x"] < cancel_box["x"]
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("compose-subject")).to_have_count(0)
