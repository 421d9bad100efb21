"""The HTML body frame fills the reader instead of a fixed 480 px box, on a tall and on a
short window, and stays a white page (as mail HTML is written) in dark mode, with a
visible edge against the dark app (issue 17).

Why not the content's own height: SEC-31 keeps the frame's document in an opaque origin
with no script, so the app cannot measure it, and a server-side guess would clip or leave
gaps; the frame takes the reader's height and a long message scrolls inside it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Mailbox, SignedIn

pytestmark = pytest.mark.browser


def _open_newsletter(session, user: Mailbox) -> None:  # type: ignore[no-untyped-def]
    page = session.page
    page.get_by_test_id("message-row").filter(has_text=user.subjects["news"]).click()
    expect(page.get_by_test_id("reader-frame")).to_be_visible()


@pytest.mark.parametrize("height", [1100, 640])
def test_the_frame_fills_the_reader(signed_in: SignedIn, seeded_user: Mailbox, height: int):
    session = signed_in(seeded_user)
    page = session.page
    page.set_viewport_size({"width": 1280, "height": height})
    _open_newsletter(session, seeded_user)
    frame = page.get_by_test_id("reader-frame").bounding_box()
    assert frame is not None
    assert frame["height"] >= 0.6 * height - 1, (frame, height)
    if height > 1000:
        assert frame["height"] > 480 + 100, frame  # not the old fixed box


def test_dark_mode_keeps_mail_on_a_white_page(signed_in: SignedIn, seeded_user: Mailbox):
    session = signed_in(seeded_user)
    page = session.page
    page.emulate_media(color_scheme="dark")
    _open_newsletter(session, seeded_user)
    styles = page.evaluate(
        """() => {
          const f = document.querySelector('[data-testid="reader-frame"]');
          const s = getComputedStyle(f);
          return {frame: s.backgroundColor, border: s.borderTopWidth,
                  app: getComputedStyle(document.body).backgroundColor};
        }"""
    )
    assert styles["frame"] == "rgb(255, 255, 255)", styles
    assert styles["app"] != "rgb(255, 255, 255)", styles  # the app itself did go dark
    assert styles["border"] != "0px", styles
    inner = page.frame_locator('[data-testid="reader-frame"]').locator("h1")
    expect(inner).to_have_text("Hello reader")
    # The document is light whatever the app: default text is dark on white.
    inside = inner.evaluate(
        """(h) => ({text: getComputedStyle(h).color,
                    page: getComputedStyle(h.ownerDocument.documentElement).backgroundColor})"""
    )
    assert inside == {"text": "rgb(0, 0, 0)", "page": "rgb(255, 255, 255)"}, inside


def test_the_frame_loads_beside_the_message_when_the_list_says_html(
    signed_in: SignedIn, seeded_user: Mailbox
):
    """The list's `has_html` lets the reader ask for the frame's document at once: its
    request starts before the message JSON answers (held back here for half a second),
    and the headers are filled in around the same frame (not loaded a second time)."""
    session = signed_in(seeded_user)
    page = session.page
    events: list[tuple[str, str]] = []

    def hold(route):  # type: ignore[no-untyped-def]
        page.wait_for_timeout(500)
        route.continue_()

    page.route("**/api/messages/*", hold)
    page.on("request", lambda r: events.append(("request", r.url)))
    page.on("response", lambda r: events.append(("response", r.url)))
    _open_newsletter(session, seeded_user)
    expect(page.get_by_test_id("reader-subject")).to_have_text(seeded_user.subjects["news"])
    inner = page.frame_locator('[data-testid="reader-frame"]').locator("h1")
    expect(inner).to_have_text("Hello reader")
    frames = [i for i, (kind, url) in enumerate(events) if url.endswith("/body.html")]
    answered = [
        i
        for i, (kind, url) in enumerate(events)
        if kind == "response" and "/api/messages/" in url and not url.endswith("/body.html")
    ]
    assert frames and answered, events
    assert events[frames[0]][0] == "request" and frames[0] < answered[0], events
    assert len([i for i in frames if events[i][0] == "request"]) == 1, events
    expect(page.get_by_test_id("reader-frame")).to_have_count(1)


def test_a_message_without_html_opens_as_text(signed_in: SignedIn, seeded_user: Mailbox):
    session = signed_in(seeded_user)
    page = session.page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.get_by_test_id("message-row").filter(has_text=seeded_user.subjects["lunch"]).click()
    expect(page.get_by_test_id("reader-text")).to_be_visible()
    expect(page.get_by_test_id("reader-frame")).to_have_count(0)
    assert not [u for u in requests if u.endswith("/body.html")], requests
