"""What the browser does during a mailgate session: no third-party requests (SEC-59),
no script in the mail frame, one strict cookie, nothing left behind on logout (SEC-54)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Request, expect

from mailgate.http.headers import FRAME_SANDBOX
from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import BrowserSession, Mailbox, OpenBrowser, login
from tests.conftest import Upstream
from tests.integration.mailfactory import html_message
from tests.unit.corpora import corpora_dir

pytestmark = pytest.mark.browser

ROW = "message-row"

TRACKING_HTML = """\
<html><head>
<title>untouched</title>
<link rel="prefetch" href="https://tracker.example/prefetch">
<link rel="dns-prefetch" href="//tracker.example">
<link rel="preconnect" href="https://tracker.example">
<link rel="stylesheet" href="https://tracker.example/style.css">
<style>
@import url("https://tracker.example/import.css");
@font-face { font-family: t; src: url(https://tracker.example/font.woff); }
body { background: url('https://tracker.example/css-bg.png'); font-family: t; }
</style>
<meta http-equiv="refresh" content="0; url=https://tracker.example/refresh">
<script>document.title='pwned'; window.name='pwned'; new Image().src='https://tracker.example/js';</script>
</head><body background="https://tracker.example/body-bg.png">
<p>Hello tracked reader</p>
<img src="https://tracker.example/p.gif" width="1" height="1" alt="">
<img srcset="https://tracker.example/srcset.png 2x" alt="">
<div style="background-image: url(https://tracker.example/inline-bg.png)">inline</div>
<table background="https://tracker.example/table-bg.png"><tr><td>t</td></tr></table>
<video poster="https://tracker.example/poster.png"></video>
<iframe src="https://tracker.example/frame"></iframe>
<object data="https://tracker.example/object"></object>
<a href="https://tracker.example/click" ping="https://tracker.example/ping">link</a>
<img src="x" onerror="document.title='pwned'">
</body></html>
"""
MARKER_TEXT = "Hello tracked reader"


def _host_origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _foreign(requests: list[Request], origin: str) -> list[str]:
    """Requests to anything but the mailgate origin (about:/data:/blob: never leave)."""
    out = []
    for req in requests:
        scheme = urlsplit(req.url).scheme
        if scheme in ("about", "data", "blob"):
            continue
        if _host_origin(req.url) != origin:
            out.append(req.url)
    return out


def _mentions(requests: list[Request], needle: str) -> list[str]:
    out = []
    for req in requests:
        text = req.url + " " + " ".join(f"{k}: {v}" for k, v in req.headers.items())
        text += " " + (req.post_data or "")
        if needle in text:
            out.append(req.url)
    return out


def _open(bs: BrowserSession, subject: str, *, html: bool = True) -> None:
    page = bs.page
    page.get_by_test_id(ROW).filter(has_text=subject).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    if html:
        expect(page.get_by_test_id("reader-frame")).to_have_attribute("sandbox", FRAME_SANDBOX)


def _frame_title_untouched(bs: BrowserSession, expected_text: str) -> None:
    """No script ran in the mail frame: its title and name are not 'pwned'.

    Playwright evaluates in the frame through the DevTools protocol (not subject to the
    sandbox), so a marker script that had run would be visible here."""
    page = bs.page
    handle = page.get_by_test_id("reader-frame").element_handle()
    frame = handle.content_frame()
    assert frame is not None
    frame.wait_for_url("**/body.html*")
    frame.wait_for_load_state()
    expect(page.frame_locator('[data-testid="reader-frame"]').locator("body")).to_contain_text(
        expected_text
    )
    title, name = frame.evaluate("[document.title, window.name]")
    assert title != "pwned"
    assert name != "pwned"
    assert page.title() != "pwned"


def test_sec_59_no_third_party_requests_and_no_script_in_mail(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
    upstream: Upstream,
) -> None:
    root = corpora_dir()
    leak = root / "tracking" / "httpleaks-leak.html" if root else None
    if leak is None or not leak.is_file():
        pytest.skip("HTTPLeaks corpus page not found (see tests/unit/corpora.py corpora_dir)")
    upstream.deliver(seeded_user.email, html_message(TRACKING_HTML, subject="Tracking newsletter"))
    leak_html = leak.read_text("utf-8", "replace")
    upstream.deliver(seeded_user.email, html_message(leak_html, subject="HTTPLeaks page"))

    mg = make_mailgate()
    bs = open_browser(mg)
    requests: list[Request] = []
    bs.context.on("request", lambda req: requests.append(req))
    login(bs.page, mg, seeded_user.email, seeded_user.password)

    _open(bs, "Tracking newsletter")
    _frame_title_untouched(bs, MARKER_TEXT)
    _open(bs, "HTTPLeaks page")
    _frame_title_untouched(bs, "")
    # Give lazy loads, refreshes and prefetches a moment to happen, then look.
    bs.page.wait_for_timeout(1500)

    origin = _host_origin(mg.url)
    bodies = [r.url for r in requests if "/body.html" in r.url]
    assert len(bodies) >= 2, "the mail frames were never loaded"
    assert _foreign(requests, origin) == []
    assert _mentions(requests, "leaking.via") == []
    assert _mentions(requests, "tracker.example") == []

    cookies = bs.context.cookies()
    assert [c["name"] for c in cookies] == ["__Host-mailgate"]
    [cookie] = cookies
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"


STORAGE_PROBE = """async () => {
  const dbs = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [];
  const caches_ = self.caches ? await caches.keys() : [];
  return {local: localStorage.length, session: sessionStorage.length, dbs, caches: caches_};
}"""


def test_sec_54_logout_leaves_no_storage_and_no_message_text(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
) -> None:
    mg = make_mailgate()
    bs = open_browser(mg)
    page = bs.page
    login(page, mg, seeded_user.email, seeded_user.password)
    subjects = seeded_user.subjects
    _open(bs, subjects["news"])
    expect(page.frame_locator('[data-testid="reader-frame"]').locator("h1")).to_have_text(
        "Hello reader"
    )
    _open(bs, subjects["lunch"], html=False)
    expect(page.get_by_test_id("reader-text")).to_contain_text("body of message")
    # While signed in, the message text is in the DOM (so the checks below can fail).
    assert subjects["lunch"] in page.content()

    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-email")).to_be_visible()

    storage = page.evaluate(STORAGE_PROBE)
    assert storage == {"local": 0, "session": 0, "dbs": [], "caches": []}
    dom = page.content()
    for text in [*subjects.values(), "body of message", "Hello reader", seeded_user.email]:
        assert text not in dom, "message data left in the DOM after logout"
    assert [f.url for f in page.frames if "/api/" in f.url] == []
    live = [c for c in bs.context.cookies() if c["name"] == "__Host-mailgate" and c["value"]]
    assert live == [], "the session cookie survived logout"
    assert mg.call(mg.services.store.lookups()) == []
