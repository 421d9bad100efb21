"""A fresh page load finds out whether it is signed in without a failed request: no red
401 in the console before sign-in, and a reload of a signed-in page lands in the mailbox
(issue 17)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import ConsoleMessage, Response, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, login

pytestmark = pytest.mark.browser


def test_first_load_logs_no_error_signed_in_or_not(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    seeded_user: Mailbox,
) -> None:
    mg = make_mailgate()
    session = open_browser(mg)
    page = session.page
    errors: list[str] = []
    failed: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.goto(mg.url + "/")
    expect(page.get_by_test_id("login-email")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert errors == [] and failed == [], (errors, failed)

    login(page, mg, seeded_user.email, seeded_user.password)
    page.reload()
    expect(page.get_by_test_id("message-row").first).to_be_visible()
    expect(page.get_by_test_id("login-email")).to_be_hidden()
    page.wait_for_load_state("networkidle")
    assert errors == [] and failed == [], (errors, failed)
