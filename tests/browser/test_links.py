"""Links in mail open in real Chromium (issue 17): a click in the sandboxed HTML frame, or on
a URL in a plain-text body, opens a new tab that gets no Referer and no opener, and the
frame still runs no script. Every link points at a plain HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from mailgate.http.headers import FRAME_SANDBOX
from mailgate.testing.loop import LoopThread
from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import BrowserSession, OpenBrowser, login
from tests.conftest import Upstream
from tests.integration.mailfactory import html_message, plain_message

pytestmark = pytest.mark.browser

LANDING = "<!DOCTYPE html><title>landing</title><h1 id=landed>landed</h1>"


@dataclass
class LinkTarget:
    """Where the links in the test mail lead; records each request's headers by path and query."""

    port: int = 0
    seen: dict[str, dict[str, str]] = field(default_factory=dict)
    runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    async def start(self) -> LinkTarget:
        async def serve(request: web.Request) -> web.Response:
            self.seen[request.path_qs] = dict(request.headers)
            return web.Response(text=LANDING, content_type="text/html")

        app = web.Application()
        app.router.add_get("/{tail:.*}", serve)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
def link_target() -> Iterator[LinkTarget]:
    thread = LoopThread("link-target")
    target = thread.call(LinkTarget().start())
    yield target
    thread.call(target.close())
    thread.close()


def _signed_in(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
    messages: list[bytes],
) -> BrowserSession:
    email, password = upstream.new_user()
    for raw in messages:
        upstream.deliver(email, raw)
    bs = open_browser(make_mailgate())
    login(bs.page, bs.mailgate, email, password)
    return bs


def _open_row(page: Page, subject: str) -> None:
    page.get_by_test_id("message-row").filter(has_text=subject).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)


def _assert_opened_cleanly(bs: BrowserSession, new: Page, target: LinkTarget, path: str) -> None:
    """The new tab shows the landing page, was asked for without Referer, has no opener."""
    new.wait_for_load_state()
    expect(new.locator("#landed")).to_have_text("landed")
    assert new.url == target.url(path)
    headers = {k.lower(): v for k, v in target.seen[f"/{path}"].items()}
    assert "referer" not in headers, headers
    assert new.evaluate("window.opener === null") is True
    # The reader stays where it was.
    assert bs.page.url.startswith(bs.origin)


def test_a_link_in_html_mail_opens_a_new_tab_without_referrer_or_opener(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
    link_target: LinkTarget,
) -> None:
    html = (
        "<p>Hello link reader</p>"
        f'<p><a id="go" href="{link_target.url("landing?utm_source=mail&id=7")}"'
        ' target="_self" rel="opener">read more</a></p>'
        "<script>window.name='pwned'; document.title='pwned'</script>"
        '<img src="x" onerror="window.name=\'pwned\'">'
    )
    bs = _signed_in(
        make_mailgate, open_browser, upstream, [html_message(html, subject="Links inside")]
    )
    page = bs.page
    _open_row(page, "Links inside")
    frame_el = page.get_by_test_id("reader-frame")
    expect(frame_el).to_have_attribute("sandbox", FRAME_SANDBOX)
    body = page.frame_locator('[data-testid="reader-frame"]')
    link = body.locator("a")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")

    with bs.context.expect_page() as info:
        link.click()
    # The tracking parameter went away on the server, the rest of the link stayed.
    _assert_opened_cleanly(bs, info.value, link_target, "landing?id=7")
    assert not [p for p in link_target.seen if "utm_" in p]

    # The frame still runs no script: markup added behind the sanitizer's back (through
    # DevTools, which the sandbox does not govern) must not run either.
    frame = frame_el.element_handle().content_frame()
    assert frame is not None
    before = frame.evaluate("[window.name, document.title]")
    assert "pwned" not in before
    frame.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.name = 'pwned'; document.title = 'pwned';";
          document.body.append(s);
          const img = document.createElement("img");
          img.setAttribute("onerror", "window.name = 'pwned'");
          img.src = "data:,broken";
          document.body.append(img);
        }"""
    )
    page.wait_for_timeout(300)
    assert frame.evaluate("[window.name, document.title]") == before
    assert page.title() != "pwned"


def test_urls_in_plain_text_mail_are_links_that_open_cleanly(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
    link_target: LinkTarget,
) -> None:
    first = link_target.url("first?utm_campaign=spring&page=2")
    second = link_target.url("wiki/A_(b)")
    body = (
        f"See {first}. And (also {second}), or write to mailto:ann@example.org.\n"
        "Not a link: javascript:alert(1) nor ftp://files.example/x <b>bold</b>\n"
    )
    raw = plain_message(1, subject="Plain links", body=body)
    bs = _signed_in(make_mailgate, open_browser, upstream, [raw])
    page = bs.page
    _open_row(page, "Plain links")
    text = page.get_by_test_id("reader-text")
    # The text is shown as written, markup and all; only the URLs became links.
    expect(text).to_contain_text("javascript:alert(1) nor ftp://files.example/x <b>bold</b>")
    expect(text.locator("b")).to_have_count(0)
    links = text.locator("a")
    expect(links).to_have_count(3)
    assert links.all_inner_texts() == [
        link_target.url("first?utm_campaign=spring&page=2"),
        second,
        "mailto:ann@example.org",
    ]
    hrefs = [links.nth(i).get_attribute("href") for i in range(3)]
    assert hrefs == [link_target.url("first?page=2"), second, "mailto:ann@example.org"]
    for i in range(3):
        expect(links.nth(i)).to_have_attribute("target", "_blank")
        expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer")
    # Sentence punctuation stays outside the links.
    expect(text).to_contain_text(f"{first}. And (also {second}), or")

    with bs.context.expect_page() as info:
        links.first.click()
    _assert_opened_cleanly(bs, info.value, link_target, "first?page=2")
    with bs.context.expect_page() as info:
        links.nth(1).click()
    _assert_opened_cleanly(bs, info.value, link_target, "wiki/A_(b)")
