"""Signing in through the domain's OpenID provider in Chromium (issue 21): the login
screen's "Sign in with …", the real provider's login and consent forms, back to mailgate's
callback, the inbox, sending with the token, logout (which revokes the refresh token at the
provider) and the provider's own logout."""

from __future__ import annotations

import json
import re
import secrets
import ssl
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from mailgate.mail.ids import mailbox_id
from tests.browser.conftest import OpenBrowser
from tests.conftest import CANARIES
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
    # Everything the page loads, the provider's pages included, stays on this machine.
    external = re.compile(r"^(?!https://localhost:\d+/|data:|about:|blob:)")
    session.context.route(external, lambda route: route.abort())
    page.goto(stack.mailgate.url + "/")
    button = page.locator('[data-testid="login-provider"][data-domain="alpha.test"]')
    expect(button).to_have_text("Sign in with Test IdP (alpha.test)")
    assert session.context.cookies(stack.mailgate.url) == []
    # An address of a domain that signs in only through its provider has no password
    # field; Enter starts the provider's sign-in instead.
    page.get_by_test_id("login-email").fill(email)
    expect(page.get_by_test_id("login-password")).to_be_hidden()
    expect(page.get_by_test_id("login-submit")).to_be_hidden()
    page.get_by_test_id("login-email").fill("someone@evil.test")
    expect(page.get_by_test_id("login-password")).to_be_visible()
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-email").press("Enter")

    # The provider's own pages (oidc-provider's development interactions).
    page.wait_for_url(f"{stack.provider.issuer}/**")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill("any")
    page.locator('button[type="submit"]').click()
    page.locator('button[type="submit"]').click()  # consent

    page.get_by_test_id("message-row").first.wait_for()
    expect(page.get_by_test_id("message-row")).to_contain_text("Hello from the IdP test")
    # The code left the address bar at once (the fragment names the open folder), and the
    # one mailgate cookie is set.
    assert page.url.split("#")[0] == stack.mailgate.url + "/"
    assert "code=" not in page.url and "state=" not in page.url
    names = [c["name"] for c in session.context.cookies(stack.mailgate.url)]
    assert names.count("__Host-mailgate") == 1
    assert page.evaluate("() => sessionStorage.length") == 0
    assert any("/oidc/callback?code=" in url for url in requests)
    assert [url for url in requests if external.match(url)] == []
    for url in requests:
        if "/oidc/callback?code=" in url:
            CANARIES.add(parse_qs(urlparse(url).query)["code"][0], kind="authorization code")

    # Send, with the access token at the submission server.
    subject = f"Sent with a token {secrets.token_hex(3)}"
    page.get_by_test_id("compose-button").click()
    page.get_by_test_id("compose-to").fill("friend@example.test")
    page.get_by_test_id("compose-subject").fill(subject)
    page.get_by_test_id("compose-text").fill("Hello through the identity provider.")
    with page.expect_response(lambda r: r.url.endswith("/api/send")) as sent:
        page.get_by_test_id("compose-send").click()
    assert sent.value.status in (200, 201)
    assert any(subject.encode() in m for m in stack.sink.messages)

    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-email")).to_be_visible()
    assert email in _revoked(stack)

    # RP-initiated logout: the login screen offers to end the provider's sign-in too, and
    # the provider sends the browser back to mailgate's start page.
    link = page.get_by_test_id("login-provider-logout")
    expect(link).to_have_text("Also sign out at Test IdP")
    link.click()
    page.wait_for_url(re.compile(r"/session/end|^" + re.escape(stack.mailgate.url + "/") + "$"))
    if "/session/end" in page.url:
        # The provider asks when it still has a sign-in here. (Here it may not: both
        # servers are "localhost", so logout's Clear-Site-Data dropped its cookie too.)
        page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(stack.mailgate.url + "/")
    assert any(
        url.startswith(f"{stack.provider.issuer}/session/end?client_id=") for url in requests
    )
    expect(page.get_by_test_id("login-email")).to_be_visible()
    expect(page.get_by_test_id("login-provider-logout")).to_be_hidden()


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


def test_a_deep_link_opened_before_the_provider_sign_in_lands_there(
    stack: Stack, open_browser: OpenBrowser
) -> None:
    email = stack.new_user()
    stack.dovecot.deliver(email, plain_message(2, subject="Filed away", to=email), "Projects")
    page = open_browser(stack.mailgate, also_trust=(stack.provider.cert_file,)).page
    link = f"{stack.mailgate.url}/#/mailbox/{mailbox_id('Projects')}"
    page.goto(link)
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-email").press("Enter")
    page.wait_for_url(f"{stack.provider.issuer}/**")
    page.locator('input[name="login"]').fill(email)
    page.locator('input[name="password"]').fill("any")
    page.locator('button[type="submit"]').click()
    page.locator('button[type="submit"]').click()  # consent
    expect(page.get_by_test_id("message-row")).to_contain_text("Filed away")
    expect(page.locator("#list-title")).to_have_text("Projects")
    assert page.url == link
    assert page.evaluate("() => sessionStorage.length") == 0
