"""Browser fixtures: Debian's Chromium driven by Playwright against a real mailgate.

Chromium trusts only the SPKI of the running mailgate's certificate
(``--ignore-certificate-errors-spki-list``), so certificate checking stays on for
everything else. The mail upstream is pinned to the pymap sandbox.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.conftest import Upstream
from tests.integration.mailfactory import html_message, plain_message, with_attachment

__all__ = [
    "CHROMIUM",
    "DOCS_SCREENSHOTS",
    "SCREENSHOTS",
    "BrowserSession",
    "Mailbox",
    "OpenBrowser",
    "SignedIn",
    "login",
    "page_json",
    "put_preferences",
    "spki_hash",
]

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"
# The README's copies; refreshed from a run with MAILGATE_UPDATE_SCREENSHOTS=1.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    + bytes(range(256))
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: needs Debian's chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def spki_hash(cert_file: str) -> str:
    """Base64 SHA-256 of the certificate's SubjectPublicKeyInfo (Chromium's pin format)."""
    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture
def upstream(sandbox: RunningSandbox) -> Upstream:
    """Browser tests run against the pymap sandbox only (it also does SMTP)."""
    return Upstream("pymap", sandbox.settings(), sandbox.add_user, sandbox.deliver)


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    driver = sync_playwright().start()
    yield driver
    driver.stop()


@dataclass
class BrowserSession:
    """One Chromium, one context and one page pointed at one mailgate."""

    mailgate: RunningMailgate
    browser: Browser
    context: BrowserContext
    page: Page

    @property
    def origin(self) -> str:
        return self.mailgate.url


@pytest.fixture
def open_browser(playwright_driver: Playwright) -> Iterator[Callable[..., BrowserSession]]:
    """``open_browser(mailgate, width=1280, height=800)`` → a BrowserSession."""
    opened: list[Browser] = []

    def open_(
        mg: RunningMailgate,
        *,
        width: int = 1280,
        height: int = 800,
        also_trust: tuple[str, ...] = (),
    ) -> BrowserSession:
        """``also_trust``: certificate files of other test servers the page may visit."""
        pin = ",".join(spki_hash(f) for f in (mg.config.tls.cert_file, *also_trust))
        browser = playwright_driver.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={pin}"],
        )
        opened.append(browser)
        context = browser.new_context(
            ignore_https_errors=False,
            viewport={"width": width, "height": height},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        return BrowserSession(mg, browser, context, page)

    yield open_
    for browser in opened:
        browser.close()


@dataclass
class Mailbox:
    """A sandbox user with a few messages in the INBOX."""

    email: str
    password: str
    subjects: dict[str, str]
    pdf: bytes


@pytest.fixture
def seeded_user(upstream: Upstream) -> Mailbox:
    email, password = upstream.new_user()
    subjects = {
        "report": "Quarterly report",
        "lunch": "Lunch plans",
        "holiday": "Holiday photos",
        "news": "Weekly newsletter",
        "invoice": "Invoice attached",
    }
    for n, key in enumerate(("report", "lunch", "holiday"), start=1):
        upstream.deliver(email, plain_message(n, subject=subjects[key], to=email))
    news = "<h1>Hello reader</h1><p>This week: <b>gardening</b> tips.</p>"
    upstream.deliver(email, html_message(news, subject=subjects["news"]))
    upstream.deliver(
        email, with_attachment(PDF_BYTES, "invoice.pdf", "application/pdf", subjects["invoice"])
    )
    return Mailbox(email, password, subjects, PDF_BYTES)


def login(page: Page, mg: RunningMailgate, email: str, password: str) -> None:
    """Sign in through the form and wait for the inbox rows."""
    page.goto(mg.url + "/")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("message-row").first.wait_for()


OpenBrowser = Callable[..., BrowserSession]
# ``signed_in(user, **config)``: a mailgate started with ``config``, and a browser whose
# page has signed in as ``user``.
SignedIn = Callable[..., BrowserSession]


@pytest.fixture
def signed_in(make_mailgate: Callable[..., RunningMailgate], open_browser: OpenBrowser) -> SignedIn:
    def start(user: Mailbox, **config: Any) -> BrowserSession:
        session = open_browser(make_mailgate(**config))
        login(session.page, session.mailgate, user.email, user.password)
        return session

    return start


def page_json(page: Page, path: str) -> Any:
    """GET an API path from inside the page (its cookie), as parsed JSON."""
    return page.evaluate(
        """async (path) => {
          const res = await fetch(path, {headers: {Accept: "application/json"}});
          return {status: res.status, body: await res.json().catch(() => null)};
        }""",
        path,
    )


def put_preferences(page: Page, prefs: dict[str, Any]) -> None:
    """PUT /api/preferences from inside the page, as the UI does (CSRF token and all)."""
    status = page.evaluate(
        """async (prefs) => {
          const session = await (await fetch("/api/session")).json();
          const res = await fetch("/api/preferences", {
            method: "PUT",
            headers: {"Content-Type": "application/json", "X-Mailgate": "1",
                      "X-CSRF-Token": session.csrf_token},
            body: JSON.stringify(prefs),
          });
          return res.status;
        }""",
        prefs,
    )
    assert status == 200, status
