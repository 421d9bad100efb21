"""Remote images per sender in a real Chromium: "Always load from this sender" adds the
sender to remote_images_senders (read-modify-write of the whole preferences object) and
loads the images through the proxy; the settings screen lists and removes senders; a
message whose sender is listed (`remote_allowed`) says so and can stop it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    Mailbox,
    SignedIn,
    page_json,
    put_preferences,
)
from tests.conftest import Upstream
from tests.integration.mailfactory import html_message

pytestmark = pytest.mark.browser

ROW = "message-row"
SUBJECT = "Pictures inside"
SENDER = "news@example.com"  # html_message's From
# Port 9 (discard) on loopback: nothing is listening, and nothing leaves the machine.
REMOTE_HTML = '<p>Look at this</p><img src="http://127.0.0.1:9/photo.png" alt="photo">'


@pytest.fixture
def remote_user(seeded_user: Mailbox, upstream: Upstream) -> Mailbox:
    upstream.deliver(seeded_user.email, html_message(REMOTE_HTML, subject=SUBJECT))
    return seeded_user


def _stored(page: Page) -> dict:
    answer = page_json(page, "/api/preferences")
    assert answer["status"] == 200, answer
    return answer["body"]["preferences"]


def _open(page: Page) -> None:
    page.get_by_test_id(ROW).filter(has_text=SUBJECT).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(SUBJECT)


def _frame_src(page: Page) -> str:
    return page.get_by_test_id("reader-frame").get_attribute("src") or ""


def test_always_load_from_sender_and_remove_it_in_settings(
    signed_in: SignedIn,
    remote_user: Mailbox,
) -> None:
    page = signed_in(remote_user, proxy={"enabled": True}).page
    # Another field already stored: the per-sender change must keep it.
    put_preferences(page, {"page_size": 20})
    _open(page)
    notice = page.get_by_test_id("remote-blocked")
    expect(notice).to_contain_text("1 remote resource blocked")
    expect(notice.get_by_test_id("load-remote")).to_be_visible()
    assert "remote=allow" not in _frame_src(page)

    with page.expect_response(lambda r: r.request.method == "PUT") as put:
        notice.get_by_test_id("remote-always").click()
    assert put.value.status == 200
    assert _stored(page) == {"page_size": 20, "remote_images_senders": [SENDER]}
    loaded = page.get_by_test_id("remote-loaded")
    expect(loaded).to_contain_text("Remote images are loaded through the privacy proxy.")
    expect(loaded.get_by_test_id("remote-stop")).to_be_focused()
    assert _frame_src(page).count("remote=allow") == 1

    # The settings screen lists the sender; Remove takes it off at once.
    page.get_by_test_id("prefs-button").click()
    entry = page.get_by_test_id("prefs-sender")
    expect(entry).to_have_count(1)
    expect(entry).to_have_attribute("data-sender", SENDER)
    page.get_by_role("button", name=f"Remove {SENDER}").click()
    expect(page.get_by_test_id("prefs-senders-empty")).to_be_visible()
    assert _stored(page) == {"page_size": 20}


def test_a_one_off_load_does_not_change_the_settings(
    signed_in: SignedIn,
    remote_user: Mailbox,
) -> None:
    page = signed_in(remote_user, proxy={"enabled": True}).page
    _open(page)
    page.get_by_test_id("load-remote").click()
    loaded = page.get_by_test_id("remote-loaded")
    expect(loaded).to_contain_text("privacy proxy")
    assert "remote=allow" in _frame_src(page)
    # Still offered: make it permanent for this sender.
    expect(loaded.get_by_test_id("remote-always")).to_be_visible()
    assert _stored(page) == {}


def test_without_the_proxy_nothing_is_offered(
    signed_in: SignedIn,
    remote_user: Mailbox,
) -> None:
    page = signed_in(remote_user).page
    _open(page)
    notice = page.get_by_test_id("remote-blocked")
    expect(notice).to_contain_text("1 remote resource blocked")
    expect(notice.locator("button")).to_have_count(0)


def test_listed_sender_shows_the_proxy_notice_and_can_stop_it(
    signed_in: SignedIn,
    remote_user: Mailbox,
) -> None:
    """Needs the server's `remote_allowed` field (and html_url with ?remote=allow)."""
    page = signed_in(remote_user, proxy={"enabled": True}).page
    put_preferences(page, {"remote_images_senders": [SENDER, "other@example.org"]})
    _open(page)
    loaded = page.get_by_test_id("remote-loaded")
    expect(loaded).to_contain_text("Remote images are loaded through the privacy proxy.")
    assert "remote=allow" in _frame_src(page)

    with page.expect_response(lambda r: r.request.method == "PUT") as put:
        loaded.get_by_test_id("remote-stop").click()
    assert put.value.status == 200
    assert _stored(page) == {"remote_images_senders": ["other@example.org"]}
    notice = page.get_by_test_id("remote-blocked")
    expect(notice).to_be_visible()
    expect(notice.get_by_test_id("load-remote")).to_be_focused()
    assert "remote=allow" not in _frame_src(page)
