"""The preferences screen in a real Chromium: page size, theme, signature and display name
are saved on the server, applied, kept across logout/login, exported as a JSON download,
deleted, and the whole screen works from the keyboard at 360 px."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, SignedIn, login, page_json
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser

ROW = "message-row"
TOTAL = 13  # more than the smallest page size (10), fewer than the default (50)
LIGHT_BG = "rgb(244, 245, 247)"  # --bg in app.css
DARK_BG = "rgb(17, 20, 24)"
STORAGE_PROBE = "() => [localStorage.length, sessionStorage.length]"


@pytest.fixture
def long_inbox(seeded_user: Mailbox, upstream: Upstream) -> Mailbox:
    for n in range(10, 10 + TOTAL - 5):
        upstream.deliver(seeded_user.email, plain_message(n, to=seeded_user.email))
    return seeded_user


def _stored(page: Page) -> dict:
    answer = page_json(page, "/api/preferences")
    assert answer["status"] == 200, answer
    return answer["body"]["preferences"]


def _open_prefs(page: Page) -> None:
    page.get_by_test_id("prefs-button").click()
    expect(page.get_by_test_id("prefs-view")).to_be_visible()
    expect(page.locator("#prefs-title")).to_be_focused()


def _background(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def _theme_attr(page: Page) -> str | None:
    return page.evaluate("document.documentElement.dataset.theme ?? null")


def _save(page: Page) -> None:
    with page.expect_response(lambda r: r.request.method == "PUT") as put:
        page.get_by_test_id("prefs-save").click()
    assert put.value.status == 200, put.value.text()
    expect(page.locator("#status")).to_have_text("Settings saved.")


def test_preferences_apply_and_persist_across_logout(
    signed_in: SignedIn,
    long_inbox: Mailbox,
) -> None:
    browser = signed_in(long_inbox)
    mg, page = browser.mailgate, browser.page
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(TOTAL)
    assert _theme_attr(page) is None
    assert _background(page) == LIGHT_BG

    _open_prefs(page)
    # Nothing stored yet: the retention period is named, not left vague.
    retention = page.get_by_test_id("prefs-retention")
    expect(retention).to_contain_text("after 60 days without sign-in")
    expect(page.get_by_test_id("prefs-page-size")).to_have_value("50")
    expect(page.get_by_test_id("prefs-theme-system")).to_be_checked()
    expect(page.get_by_test_id("prefs-senders-empty")).to_be_visible()
    page.get_by_test_id("prefs-page-size").select_option("10")
    page.get_by_test_id("prefs-theme-dark").check()
    page.get_by_test_id("prefs-display-name").fill("Alice Example")
    page.get_by_test_id("prefs-signature").fill("Alice\nmailgate tester")
    _save(page)
    expect(retention).to_contain_text("They are erased on ")
    assert _stored(page) == {
        "page_size": 10,
        "theme": "dark",
        "display_name": "Alice Example",
        "signature": "Alice\nmailgate tester",
    }
    assert _theme_attr(page) == "dark"
    assert _background(page) == DARK_BG

    # Closing shows the list again, ten rows a page, focus back on the settings button.
    page.get_by_test_id("prefs-close").click()
    expect(page.get_by_test_id("prefs-view")).to_be_hidden()
    expect(page.get_by_test_id("prefs-button")).to_be_focused()
    expect(rows).to_have_count(10)
    expect(page.get_by_test_id("list-range")).to_have_text(f"1\u201310 of {TOTAL}")
    page.get_by_test_id("page-next").click()
    expect(rows).to_have_count(TOTAL - 10)

    # The signature is in a new message's body, after an empty line and "-- ".
    page.get_by_test_id("compose-button").click()
    expect(page.get_by_test_id("compose-text")).to_have_value("\n\n-- \nAlice\nmailgate tester")
    page.get_by_test_id("compose-discard").click()
    expect(page.get_by_test_id("compose-text")).to_have_count(0)

    # Signed out: the login screen uses the device's theme again.
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-email")).to_be_visible()
    assert _theme_attr(page) is None
    assert _background(page) == LIGHT_BG
    assert page.evaluate(STORAGE_PROBE) == [0, 0]

    # Signed in again: everything came back from the server.
    login(page, mg, long_inbox.email, long_inbox.password)
    expect(rows).to_have_count(10)
    assert _theme_attr(page) == "dark"
    _open_prefs(page)
    expect(page.get_by_test_id("prefs-page-size")).to_have_value("10")
    expect(page.get_by_test_id("prefs-theme-dark")).to_be_checked()
    expect(page.get_by_test_id("prefs-display-name")).to_have_value("Alice Example")
    expect(page.get_by_test_id("prefs-signature")).to_have_value("Alice\nmailgate tester")
    assert page.evaluate(STORAGE_PROBE) == [0, 0]


def test_system_theme_follows_the_device_and_light_overrides_it(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg).page
    page.emulate_media(color_scheme="dark")
    login(page, mg, seeded_user.email, seeded_user.password)
    assert _background(page) == DARK_BG  # no preference: the device's dark scheme
    _open_prefs(page)
    page.get_by_test_id("prefs-theme-light").check()
    _save(page)
    assert _background(page) == LIGHT_BG
    page.get_by_test_id("prefs-theme-system").check()
    _save(page)
    assert _theme_attr(page) is None
    assert _background(page) == DARK_BG
    page.emulate_media(color_scheme="light")
    assert _background(page) == LIGHT_BG


def test_invalid_value_shows_the_servers_message(
    signed_in: SignedIn,
    seeded_user: Mailbox,
) -> None:
    page = signed_in(seeded_user).page
    _open_prefs(page)
    # A control character is refused by the server, which names the field.
    page.get_by_test_id("prefs-display-name").fill("Bad\u0007Name")
    page.get_by_test_id("prefs-save").click()
    error = page.get_by_test_id("prefs-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("display_name")
    assert _stored(page) == {}


def test_export_downloads_the_preferences_as_json(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
) -> None:
    mg = make_mailgate()
    bs = open_browser(mg)
    page = bs.page
    login(page, mg, seeded_user.email, seeded_user.password)
    _open_prefs(page)
    page.get_by_test_id("prefs-page-size").select_option("20")
    page.get_by_test_id("prefs-theme-light").check()
    page.get_by_test_id("prefs-signature").fill("Regards ✓")
    _save(page)

    requests: list[Request] = []
    page.on("request", lambda req: requests.append(req))
    with page.expect_download() as info:
        page.get_by_test_id("prefs-export").click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename == "mailgate-preferences.json"
    exported = json.loads(Path(download.path()).read_text("utf-8"))
    assert exported == {"page_size": 20, "theme": "light", "signature": "Regards ✓"}
    assert exported == _stored(page)
    # The file is made in the page: besides the API read, only the blob: URL.
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(mg.url))
    for req in requests:
        parts = urlsplit(req.url)
        assert parts.scheme == "blob" or (
            f"{parts.scheme}://{parts.netloc}" == origin and parts.path.startswith("/api/")
        ), req.url
    expect(page.locator("#status")).to_have_text("Your settings were downloaded.")


def test_delete_asks_first_then_resets_to_defaults(
    signed_in: SignedIn,
    long_inbox: Mailbox,
) -> None:
    page = signed_in(long_inbox).page
    _open_prefs(page)
    page.get_by_test_id("prefs-page-size").select_option("10")
    page.get_by_test_id("prefs-theme-dark").check()
    page.get_by_test_id("prefs-signature").fill("Bye")
    _save(page)
    saved = _stored(page)
    assert saved["page_size"] == 10

    # Cancelled in the app's own dialog (no native one): nothing happens, focus returns.
    page.on("dialog", lambda dialog: pytest.fail(f"native dialog: {dialog.message}"))
    page.get_by_test_id("prefs-delete").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("cannot be undone")
    expect(page.get_by_test_id("dialog-cancel")).to_be_focused()  # a destructive action
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("prefs-delete")).to_be_focused()
    page.wait_for_timeout(300)
    assert _stored(page) == saved
    assert _theme_attr(page) == "dark"

    # Confirmed: erased on the server, defaults shown and applied.
    page.get_by_test_id("prefs-delete").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.get_by_test_id("dialog-confirm").click()
    assert deleted.value.status == 204
    expect(page.locator("#status")).to_have_text("Your settings were deleted.")
    assert _stored(page) == {}
    expect(page.get_by_test_id("prefs-page-size")).to_have_value("50")
    expect(page.get_by_test_id("prefs-theme-system")).to_be_checked()
    expect(page.get_by_test_id("prefs-signature")).to_have_value("")
    assert _theme_attr(page) is None
    page.get_by_test_id("prefs-close").click()
    expect(page.get_by_test_id(ROW)).to_have_count(TOTAL)


FOCUS_PROBE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    testid: el.dataset.testid || el.id || el.tagName,
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 1,
  };
}"""

LABEL_PROBE = """() => [...document.querySelectorAll(
  "#prefs-view input, #prefs-view select, #prefs-view textarea")]
  .filter((el) => !(el.labels && el.labels.length && el.labels[0].textContent.trim()))
  .map((el) => el.id || el.name)"""


def _tab_to(page: Page, testid: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.dataset?.testid") == testid:
            return
    raise AssertionError(f"Tab never reached {testid}")


def _focused(page: Page, testid: str) -> None:
    """`testid` has focus and shows a visible focus ring."""
    probe = page.evaluate(FOCUS_PROBE)
    assert probe == {"testid": testid, "outline": True}, probe


def test_keyboard_only_preferences_at_360px(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    long_inbox: Mailbox,
) -> None:
    mg = make_mailgate()
    page = open_browser(mg, width=360, height=740).page
    page.goto(mg.url + "/")
    expect(page.get_by_test_id("login-email")).to_be_focused()
    page.keyboard.type(long_inbox.email)
    page.keyboard.press("Tab")
    page.keyboard.type(long_inbox.password)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id(ROW)).to_have_count(TOTAL)

    _tab_to(page, "prefs-button")
    _focused(page, "prefs-button")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("prefs-view")).to_be_visible()
    expect(page.locator("#prefs-title")).to_be_focused()
    assert page.evaluate(LABEL_PROBE) == []
    # Nothing sticks out sideways at 360 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    box = page.get_by_test_id("prefs-save").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 360

    page.keyboard.press("Tab")
    _focused(page, "prefs-language")
    page.keyboard.press("Tab")
    _focused(page, "prefs-time-zone")
    page.keyboard.press("Tab")
    _focused(page, "prefs-page-size")
    page.keyboard.press("ArrowDown")  # 50 -> 100
    expect(page.get_by_test_id("prefs-page-size")).to_have_value("100")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # -> 25
    expect(page.get_by_test_id("prefs-page-size")).to_have_value("25")
    page.keyboard.press("Tab")
    _focused(page, "prefs-list-view")
    page.keyboard.press("Tab")
    _focused(page, "prefs-compose-format")
    page.keyboard.press("Tab")
    _focused(page, "prefs-theme-system")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    _focused(page, "prefs-theme-dark")
    expect(page.get_by_test_id("prefs-theme-dark")).to_be_checked()
    page.keyboard.press("Tab")
    _focused(page, "prefs-display-name")
    page.keyboard.type("Keyboard Kim")
    page.keyboard.press("Tab")
    _focused(page, "prefs-signature")
    page.keyboard.type("Kim")
    page.keyboard.press("Tab")
    _focused(page, "prefs-save")
    with page.expect_response(lambda r: r.request.method == "PUT") as put:
        page.keyboard.press("Enter")
    assert put.value.status == 200
    assert _stored(page) == {
        "page_size": 25,
        "theme": "dark",
        "display_name": "Keyboard Kim",
        "signature": "Kim",
    }
    _tab_to(page, "prefs-export")
    _focused(page, "prefs-export")
    page.keyboard.press("Tab")
    _focused(page, "prefs-delete")

    # Escape leaves the screen; focus is back on the settings button.
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("prefs-view")).to_be_hidden()
    expect(page.get_by_test_id("prefs-button")).to_be_focused()
    expect(page.get_by_test_id(ROW)).to_have_count(TOTAL)  # 13 fit on a page of 25

    # Unsaved edits: Escape asks first; dismissing keeps the screen open.
    page.keyboard.press("Enter")
    expect(page.locator("#prefs-title")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # 25 -> 50
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("confirm-dialog")).to_be_visible()
    page.get_by_test_id("dialog-cancel").click()
    expect(page.get_by_test_id("confirm-dialog")).to_have_count(0)
    expect(page.get_by_test_id("prefs-view")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("prefs-view")).to_be_hidden()
    assert _stored(page)["page_size"] == 25
