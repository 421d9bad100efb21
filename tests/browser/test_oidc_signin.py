"""Signing in through the domain's OpenID provider in Chromium (issue 21): the login
screen's "Sign in with …", the real provider's login and consent forms, back to mailgate's
callback, the inbox, and logout (which revokes the refresh token at the provider)."""

from __future__ import annotations

import json
import ssl
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OpenBrowser
from tests.integration.mailfactory import plain_message
from tests.integration.test_oidc_signin import Stack, stack

__all__ = ["stack"]

pytestmark = [pytest.mark.browser, pytest.mark.dovecot]


def _revoked(stack: Stack) -> list[str]:
    ctx = ssl.create_default_context(cafile=stack.provider.ca_file)
    with urllib.request.urlopen(f"{stack.provider.issuer}/test/revoked", context=ctx) as resp:
        return list(json.load(resp)["revoked"])


def test_sign_in_with_the_provider_reads_the_inbox_and_signs_out(
    stack: Stack, open_browser: OpenBrowser
) -> None:
    email = stack.new_user()
    stack.dovecot.deliver(email, plain_message(1, subject="Hello from the IdP test", to=email))
    session = open_browser(stack.mailgate, also_trust=(stack.provider.cert_file,))
    page = session.page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(stack.mailgate.url + "/")
    button = page.locator('[data-testid="login-provider"][data-domain="alpha.test"]')
    expect(button).to_have_text("Sign in with Test IdP (alpha.test)")
    assert session.context.cookies(stack.mailgate.url) == []
    button.click()

    # The provider's own pages (oidc-provider's development interactions).
    page.wait_for_url(f"{stack.provider.issuer}/**")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill("any")
    page.locator('button[type="submit"]').click()
    page.locator('button[type="submit"]').click()  # consent

    page.get_by_test_id("message-row").first.wait_for()
    expect(page.get_by_test_id("message-row")).to_contain_text("Hello from the IdP test")
    # The code left the address bar at once, and the one mailgate cookie is set.
    assert page.url == stack.mailgate.url + "/"
    names = [c["name"] for c in session.context.cookies(stack.mailgate.url)]
    assert names.count("__Host-mailgate") == 1
    assert page.evaluate("() => sessionStorage.length") == 0
    assert any("/oidc/callback?code=" in url for url in requests)

    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-email")).to_be_visible()
    assert email in _revoked(stack)


def test_a_callback_in_a_browser_that_did_not_start_the_flow_signs_nobody_in(
    stack: Stack, open_browser: OpenBrowser
) -> None:
    session = open_browser(stack.mailgate)
    page = session.page
    page.goto(stack.mailgate.url + "/oidc/callback?code=stolen&state=attackers")
    expect(page.get_by_test_id("login-error")).to_have_text(
        "The sign-in with the identity provider did not complete. Please start again."
    )
    assert page.url == stack.mailgate.url + "/"
    assert session.context.cookies(stack.mailgate.url) == []
