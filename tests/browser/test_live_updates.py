"""Live updates in a real Chromium: mail arriving through the sandbox's SMTP shows up in
the open inbox by itself (GET /api/events), without the page polling an activity
endpoint; when the session is wiped elsewhere the page ends it and stops reconnecting."""

from __future__ import annotations

import secrets
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import OpenBrowser, login
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser

ROW = "message-row"
LIVE_WITHIN_MS = 5_000


def _ascii_user(upstream: Upstream) -> tuple[str, str]:
    """A user whose password smtplib can send (its AUTH PLAIN is ASCII only)."""
    token = secrets.token_hex(4)
    email, password = f"live-{token}@example.test", f"live-pw-{token}"
    upstream.add_user(email, password)
    return email, password


def _smtp_send(sandbox: RunningSandbox, email: str, password: str, subject: str) -> None:
    """Submit a message to `email` through the sandbox SMTP; it delivers to the INBOX."""
    sb = sandbox.sandbox
    msg = EmailMessage()
    msg["From"] = "Dana <dana@example.net>"
    msg["To"] = email
    msg["Subject"] = subject
    msg.set_content("Arrived while you were looking.\n")
    context = ssl.create_default_context(cafile=sb.ca_file)
    with smtplib.SMTP_SSL(sb.smtp_host, sb.smtp_port, context=context, timeout=10) as smtp:
        smtp.login(email, password)
        assert smtp.send_message(msg, to_addrs=[email]) == {}


def _inbox_unread(page: Page) -> Locator:
    # The badge's number is for the eye; its spoken text says "N unread".
    return page.locator(
        '[data-testid="mailbox"][data-role="inbox"] .mailbox-unread .visually-hidden'
    )


def _api_paths(requests: list[Request]) -> list[str]:
    return [f"{r.method} {r.url.split('/', 3)[-1].split('?')[0]}" for r in requests]


def test_new_mail_appears_without_user_action(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
    sandbox: RunningSandbox,
) -> None:
    email, password = _ascii_user(upstream)
    for n in (1, 2):
        upstream.deliver(email, plain_message(n, to=email))
    mg = make_mailgate()
    page = open_browser(mg).page
    requests: list[Request] = []
    login(page, mg, email, password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(2)
    expect(_inbox_unread(page)).to_have_text("2 unread")
    page.wait_for_timeout(500)  # let the event stream settle
    page.on("request", lambda req: requests.append(req))

    subject = f"Live arrival {secrets.token_hex(3)}"
    _smtp_send(sandbox, email, password, subject)
    # No click, no key: the event alone updates the count and the open list.
    expect(_inbox_unread(page)).to_have_text("3 unread", timeout=LIVE_WITHIN_MS)
    expect(rows.filter(has_text=subject)).to_have_count(1, timeout=LIVE_WITHIN_MS)
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("new-mail")).to_be_hidden()
    assert page.title() == "(3) mailgate"
    # Nothing kept the session alive on a timer.
    assert not [p for p in _api_paths(requests) if p.endswith("api/session")], _api_paths(requests)


def test_events_end_with_the_session_and_are_not_retried(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = _ascii_user(upstream)
    upstream.deliver(email, plain_message(1, to=email))
    mg = make_mailgate()
    bs = open_browser(mg)
    page = bs.page
    login(page, mg, email, password)
    page.wait_for_timeout(500)
    events: list[Request] = []
    page.on("request", lambda req: events.append(req) if "/api/events" in req.url else None)

    # Sign out in another tab of the same browser: this page itself does nothing.
    other = bs.context.new_page()
    other.goto(mg.url + "/")
    expect(other.get_by_test_id(ROW)).to_have_count(1)
    other.get_by_test_id("logout").click()
    expect(other.get_by_test_id("login-info")).to_have_text("You have signed out.")
    assert mg.call(mg.services.store.lookups()) == []
    other.close()

    # The stream ends, the reconnect gets 401, and the page wipes itself.
    expect(page.get_by_test_id("login-email")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("login-info")).to_have_text(
        "Your session has ended. Please sign in again."
    )
    expect(page.get_by_test_id(ROW)).to_have_count(0)
    seen = len(events)
    started = time.monotonic()
    page.wait_for_timeout(6_000)
    assert time.monotonic() - started >= 6
    assert len(events) == seen, "the page kept reconnecting to /api/events"
    assert seen <= 3, [r.url for r in events]
