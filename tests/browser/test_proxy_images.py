"""Remote images through the privacy proxy in real Chromium (issue 7, SEC-59, SEC-62):
the sandboxed, opaque-origin mail frame loads them from mailgate only, cookie-less, and
the image host never hears from the browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Request, expect

from mailgate.testing.loop import LoopThread
from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import BrowserSession, Mailbox, login
from tests.conftest import Upstream
from tests.integration.image_server import ImageServer
from tests.integration.mailfactory import html_message

pytestmark = pytest.mark.browser

SUBJECT = "Pictures from the trip"


@pytest.fixture
def images(tmp_path: Path) -> Iterator[tuple[ImageServer, LoopThread]]:
    thread = LoopThread("image-server")
    server = thread.call(ImageServer().start(tmp_path))
    yield server, thread
    thread.call(server.close())
    thread.close()


def _natural_widths(bs: BrowserSession) -> list[int]:
    """Widths of the images in the mail frame. The frame may be replaced or still
    navigating when asked (loading remote content swaps its source): ask again then."""
    for _ in range(50):
        frame = bs.page.get_by_test_id("reader-frame").element_handle().content_frame()
        assert frame is not None
        try:
            frame.wait_for_load_state()
            widths: list[int] = frame.evaluate(
                "Promise.all([...document.images].map((i) => i.decode().then("
                "() => i.naturalWidth, () => 0)))"
            )
            return widths
        except PlaywrightError as exc:
            if "context was destroyed" not in str(exc) and "detached" not in str(exc):
                raise
        bs.page.wait_for_timeout(100)
    raise AssertionError("the mail frame never settled")


def test_sec_62_remote_images_load_through_the_proxy_only_on_request(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: Callable[..., BrowserSession],
    seeded_user: Mailbox,
    upstream: Upstream,
    images: tuple[ImageServer, LoopThread],
) -> None:
    server, _ = images
    html = f'<p>Look</p><img src="{server.url("pixel.png")}" width="1" height="1" alt="p">'
    upstream.deliver(seeded_user.email, html_message(html, subject=SUBJECT))
    mg = make_mailgate(
        proxy={
            "enabled": True,
            "ca_file": server.ca_file,
            "allow_private_addresses": ("127.0.0.1",),
        }
    )
    bs = open_browser(mg)
    requests: list[Request] = []
    bs.context.on("request", lambda req: requests.append(req))
    login(bs.page, mg, seeded_user.email, seeded_user.password)
    bs.page.get_by_test_id("message-row").filter(has_text=SUBJECT).click()
    expect(bs.page.get_by_test_id("remote-blocked")).to_contain_text("1 remote resource")
    assert _natural_widths(bs) == [0]  # blocked: the tag stays, without a source
    assert server.seen == []

    bs.page.get_by_test_id("load-remote").click()
    bs.page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=reader-frame]')]"
        ".some((f) => f.src.includes('remote=allow'))"
    )
    assert _natural_widths(bs) == [1]
    proxied = [r for r in requests if "/api/proxy/image" in r.url]
    assert len(proxied) == 1
    assert "cookie" not in proxied[0].all_headers()  # the opaque frame sends none
    origin = urlsplit(mg.url).netloc
    assert {urlsplit(r.url).netloc for r in requests if r.url.startswith("https")} == {origin}
    assert len(server.requests_for("pixel.png")) == 1
    assert "cookie" not in {k.lower() for k in server.seen[0].headers}
