"""Settings → "Filters and vacation reply" in a real Chromium, against Dovecot with
Pigeonhole: a vacation reply and a filing rule set through the screen are stored in
mailgate's script on the server (and the rule files the next delivered message); another
program's active script is shown read-only and only replaced after the user confirms."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Page, expect

from mailgate.config import Config
from mailgate.mail.sieve import PlainMechanism, SieveConnection, parse_rules
from mailgate.testing.servers import RunningMailgate
from mailgate.tls import upstream_context
from tests.browser.conftest import SCREENSHOTS, OpenBrowser, login, page_json
from tests.conftest import CANARIES
from tests.integration.mailfactory import plain_message
from tests.servers.dovecot import Dovecot

T = TypeVar("T")
pytestmark = [pytest.mark.browser, pytest.mark.dovecot]

FOREIGN = 'require ["fileinto"];\r\nif header :contains "subject" "[spam]" { fileinto "Junk"; }\r\n'


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not Dovecot.available():
        pytest.skip("needs dovecot (dovecot-sieve, dovecot-managesieved, dovecot-lmtpd) and root")
    server = Dovecot(sieve=True)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def mailgate(dovecot: Dovecot) -> Iterator[RunningMailgate]:
    config = Config().replace(
        imap={"host": dovecot.host, "port": dovecot.port, "security": "tls"},
        sieve={"host": dovecot.host, "port": dovecot.sieve_port, "security": "starttls"},
        upstream={"ca_file": dovecot.ca_file, "allow_any_port": True},
    )
    running = RunningMailgate(config).start()
    yield running
    running.stop()


@pytest.fixture
def account(dovecot: Dovecot) -> tuple[str, str]:
    address = f"ui-{secrets.token_hex(4)}@example.test"
    password = f"pw-{secrets.token_urlsafe(10)}"
    dovecot.add_user(address, password)
    CANARIES.add(address, password, address.split("@")[0])
    dovecot.deliver(address, plain_message(1, subject="Welcome", to=address))
    return address, password


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on its own thread (Playwright's sync API owns this one's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=30)


def _scripts(dovecot: Dovecot, account: tuple[str, str]) -> dict[str, tuple[bool, str]]:
    async def read() -> dict[str, tuple[bool, str]]:
        conn = await SieveConnection.open(
            dovecot.host,
            dovecot.sieve_port or 0,
            "starttls",
            upstream_context(dovecot.ca_file),
            timeout=10,
        )
        try:
            await conn.authenticate(PlainMechanism(*account))
            return {
                s.name: (s.active, await conn.get_script(s.name)) for s in await conn.list_scripts()
            }
        finally:
            await conn.logout()

    return _run(read())


def _put_foreign(dovecot: Dovecot, account: tuple[str, str]) -> None:
    async def put() -> None:
        conn = await SieveConnection.open(
            dovecot.host,
            dovecot.sieve_port or 0,
            "starttls",
            upstream_context(dovecot.ca_file),
            timeout=10,
        )
        try:
            await conn.authenticate(PlainMechanism(*account))
            await conn.put_script("other-client", FOREIGN)
            await conn.set_active("other-client")
        finally:
            await conn.logout()

    _run(put())


def _open_screen(page: Page) -> None:
    page.get_by_test_id("prefs-button").click()
    page.get_by_test_id("sieve-open").click()
    expect(page.get_by_test_id("sieve-view")).to_be_visible()
    expect(page.locator("#sieve-title")).to_be_focused()


def _mail(sender: str, to: str, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content("hello")
    return msg.as_bytes()


def test_vacation_and_a_rule_from_the_settings_screen(
    open_browser: OpenBrowser,
    mailgate: RunningMailgate,
    dovecot: Dovecot,
    account: tuple[str, str],
) -> None:
    session = open_browser(mailgate)
    page = session.page
    login(page, mailgate, *account)
    _open_screen(page)
    expect(page.get_by_test_id("sieve-foreign")).to_have_count(0)
    expect(page.get_by_test_id("sieve-filters-empty")).to_be_visible()

    page.get_by_test_id("sieve-vacation-on").check()
    page.get_by_test_id("sieve-vacation-subject").fill("Away")
    page.get_by_test_id("sieve-vacation-text").fill("Back on Monday.")
    page.get_by_test_id("sieve-vacation-start").fill("2030-01-02")
    page.get_by_test_id("sieve-vacation-end").fill("2030-01-09")
    with page.expect_response(lambda r: r.request.method == "PUT") as put:
        page.get_by_test_id("sieve-vacation-save").click()
    assert put.value.status == 200, put.value.text()
    expect(page.locator("#status")).to_have_text("Vacation reply saved.")

    page.get_by_test_id("sieve-rule-add").click()
    rule = page.get_by_test_id("sieve-rule")
    expect(rule).to_have_count(1)
    rule.get_by_test_id("sieve-rule-name").fill("Newsletters")
    rule.get_by_test_id("sieve-cond-value").fill("@news.example.net")
    rule.get_by_test_id("sieve-action-folder").select_option("Archive")
    rule.get_by_role("button", name="Add an action").click()
    rule.get_by_test_id("sieve-action-type").nth(1).select_option("mark_read")
    with page.expect_response(lambda r: r.request.method == "PUT") as put:
        page.get_by_test_id("sieve-filters-save").click()
    assert put.value.status == 200, put.value.text()
    expect(page.locator("#status")).to_have_text("Filters saved.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sieve-1280x800.png"), full_page=True)

    filters = page_json(page, "/api/sieve/filters")["body"]
    assert filters == {
        "filters": [
            {
                "name": "Newsletters",
                "enabled": True,
                "match": "all",
                "conditions": [{"field": "from", "op": "contains", "value": "@news.example.net"}],
                "actions": [{"type": "fileinto", "folder": "Archive"}, {"type": "mark_read"}],
            }
        ],
        "active": "mailgate",
    }
    stored = _scripts(dovecot, account)
    assert list(stored) == ["mailgate"] and stored["mailgate"][0] is True
    rules = parse_rules(stored["mailgate"][1])
    assert rules is not None
    assert (rules.vacation.enabled, rules.vacation.subject, rules.vacation.text) == (
        True,
        "Away",
        "Back on Monday.",
    )
    assert rules.vacation.start is not None and rules.vacation.start.isoformat() == "2030-01-02"

    # The rule runs on the server: the next newsletter goes to Archive.
    sender = "weekly@news.example.net"
    dovecot.deliver_lmtp(sender, account[0], _mail(sender, account[0], "This week"))
    boxes = {m["path"]: m for m in page_json(page, "/api/mailboxes")["body"]["mailboxes"]}
    assert (boxes["Archive"]["total"], boxes["Archive"]["unread"]) == (1, 0)

    # Back to the settings screen, and the rule is still listed when reopened.
    page.get_by_test_id("sieve-back").click()
    expect(page.get_by_test_id("prefs-view")).to_be_visible()
    page.get_by_test_id("sieve-open").click()
    expect(page.get_by_test_id("sieve-rule")).to_have_count(1)
    expect(page.get_by_test_id("sieve-rule-name")).to_have_value("Newsletters")


def test_another_programs_script_is_shown_and_replaced_only_on_confirmation(
    open_browser: OpenBrowser,
    mailgate: RunningMailgate,
    dovecot: Dovecot,
    account: tuple[str, str],
) -> None:
    _put_foreign(dovecot, account)
    session = open_browser(mailgate)
    page = session.page
    login(page, mailgate, *account)
    _open_screen(page)
    notice = page.get_by_test_id("sieve-foreign")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("other-client")
    notice.get_by_text("Show that script").click()
    expect(page.get_by_test_id("sieve-foreign-text")).to_have_text(FOREIGN.replace("\r\n", "\n"))

    page.get_by_test_id("sieve-vacation-on").check()
    page.get_by_test_id("sieve-vacation-text").fill("Away.")
    page.on("dialog", lambda d: pytest.fail(f"native dialog: {d.message}"))
    page.get_by_test_id("sieve-vacation-save").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("other-client")
    expect(dialog).to_contain_text("stays stored")
    page.get_by_test_id("dialog-cancel").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("sieve-vacation-save")).to_be_enabled()
    expect(page.get_by_test_id("sieve-vacation-save")).to_be_focused()
    assert _scripts(dovecot, account) == {"other-client": (True, FOREIGN)}

    page.get_by_test_id("sieve-vacation-save").click()
    with page.expect_response(lambda r: r.request.method == "PUT") as put:
        page.get_by_test_id("dialog-confirm").click()
    assert put.value.status == 200, put.value.text()
    expect(page.get_by_test_id("sieve-foreign")).to_have_count(0)
    stored = _scripts(dovecot, account)
    assert stored["other-client"] == (False, FOREIGN)
    assert stored["mailgate"][0] is True


def test_a_script_activated_elsewhere_meanwhile_is_not_replaced_silently(
    open_browser: OpenBrowser,
    mailgate: RunningMailgate,
    dovecot: Dovecot,
    account: tuple[str, str],
) -> None:
    session = open_browser(mailgate)
    page = session.page
    login(page, mailgate, *account)
    _open_screen(page)
    expect(page.get_by_test_id("sieve-foreign")).to_have_count(0)
    _put_foreign(dovecot, account)  # another client, while the screen is open

    page.get_by_test_id("sieve-vacation-on").check()
    page.get_by_test_id("sieve-vacation-text").fill("Away.")
    page.on("dialog", lambda d: pytest.fail(f"native dialog: {d.message}"))
    page.get_by_test_id("sieve-vacation-save").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("other-client")
    expect(page.locator(".confirm-dialog-body")).to_have_text(re.compile(r"Continue\?$"))
    with page.expect_response(
        lambda r: r.request.method == "PUT" and '"activate":true' in (r.request.post_data or "")
    ) as put:
        page.get_by_test_id("dialog-confirm").click()
    assert put.value.status == 200, put.value.text()
    stored = _scripts(dovecot, account)
    assert stored["other-client"] == (False, FOREIGN)
    assert stored["mailgate"][0] is True
