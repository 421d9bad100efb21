"""The login screen lists the served mail domains only where the operator allows it
(issue 20), and a bare user name signs in when exactly one domain is served."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from mailgate.config import DomainEntry
from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import OpenBrowser
from tests.conftest import Upstream

pytestmark = pytest.mark.browser


def _entry(upstream: Upstream, domain: str) -> DomainEntry:
    imap, smtp = upstream.settings["imap"], upstream.settings["smtp"]
    return DomainEntry(
        domain=domain,
        imap_host=imap["host"],
        imap_port=imap["port"],
        imap_security=imap["security"],
        smtp_host=smtp["host"],
        smtp_port=smtp["port"],
        smtp_security=smtp["security"],
    )


def test_served_domains_are_shown_only_when_allowed(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    local, domain = email.split("@")
    entry = _entry(upstream, domain)

    # Off by default, even with a map: nothing about the map shows on the screen.
    hidden = make_mailgate(domains={"entries": (entry,)})
    page = open_browser(hidden).page
    page.goto(hidden.url + "/")
    page.get_by_test_id("login-email").wait_for()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("login-domains")).to_be_hidden()
    assert page.get_by_test_id("login-email").get_attribute("aria-describedby") is None
    assert domain not in page.locator("#login-view").inner_text()

    shown = make_mailgate(domains={"entries": (entry,), "show_on_login": True})
    page = open_browser(shown).page
    page.goto(shown.url + "/")
    hint = page.get_by_test_id("login-domains")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text(domain)
    assert page.get_by_test_id("login-email").get_attribute(
        "aria-describedby"
    ) == hint.get_attribute("id")
    # In the chosen language too.
    page.get_by_test_id("login-language").select_option("de")
    expect(hint).to_contain_text("Domains")
    expect(hint).to_contain_text(domain)

    # One domain served: the user name alone is enough.
    page.get_by_test_id("login-email").fill(local)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("compose-button").wait_for()
    session = page.evaluate("fetch('/api/session').then((r) => r.json())")
    assert session["account"]["email"] == email
