"""Quota under the mailbox list (issue 17), in Chromium: shown from IMAP QUOTA on Dovecot
(the test Dovecot runs the quota plugin), and nothing at all on pymap (no QUOTA)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from mailgate.testing.servers import RunningMailgate, RunningSandbox
from tests.browser.conftest import OpenBrowser, login
from tests.browser.test_i18n import AXE_JS, _axe
from tests.conftest import Upstream, _combined_ca
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser


@pytest.fixture(params=["pymap", "dovecot"])
def upstream(request: pytest.FixtureRequest, sandbox: RunningSandbox) -> Upstream:
    """This module's browser tests run against Dovecot too (SMTP stays the sandbox's)."""
    if request.param == "pymap":
        return Upstream("pymap", sandbox.settings(), sandbox.add_user, sandbox.deliver)
    dc = request.getfixturevalue("dovecot")
    settings = sandbox.settings()
    settings["imap"] = {"host": dc.host, "port": dc.port, "security": "tls"}
    settings["upstream"] = {
        "ca_file": _combined_ca(dc.ca_file, sandbox.ca_file),
        "allow_any_port": True,
    }
    return Upstream("dovecot", settings, dc.add_user, dc.deliver)


def test_quota_shows_where_the_server_has_one(
    make_mailgate: Callable[..., RunningMailgate],
    open_browser: OpenBrowser,
    upstream: Upstream,
) -> None:
    email, password = upstream.new_user()
    upstream.deliver(email, plain_message(1, subject="Some weight", to=email, body="x" * 40_000))
    mg = make_mailgate()
    session = open_browser(mg)
    if AXE_JS.is_file():
        session.page.add_init_script(path=str(AXE_JS))
    page = session.page
    with page.expect_response(lambda r: r.url.endswith("/api/quota")) as asked:
        login(page, mg, email, password)
    assert asked.value.status == 200
    quota = page.get_by_test_id("quota")
    if upstream.name == "pymap":
        assert asked.value.json() == {"storage": None, "messages": None}
        expect(page.locator("#mailbox-list")).to_be_visible()
        expect(quota).to_have_count(0)
        return
    said = re.compile(r"^4[0-4] kB of 1 GB used$")
    expect(quota).to_have_text(said)
    meter = page.get_by_test_id("quota-meter")
    expect(meter).to_have_attribute("max", str(1024**3))
    expect(meter).to_have_accessible_name(said)
    used = int(meter.get_attribute("value") or "0")
    assert 39 * 1024 <= used <= 44 * 1024
    # In the nav pane, below the mailboxes (a narrow screen shows it with them).
    expect(page.locator(".pane-nav").get_by_test_id("quota")).to_be_visible()
    if AXE_JS.is_file():
        assert _axe(page) == []
