"""Contacts and address suggestions in a real Chromium, against the pymap sandbox and a
real Radicale over TLS: compose suggests a correspondent found in Sent and a contact
made in Radicale (keyboard and pointer), the Contacts screen lists, searches, adds, edits
and deletes, and the reader adds a sender to the address book."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from mailgate.mail.contacts import CardDavClient, ContactDraft
from mailgate.testing.servers import RunningMailgate
from mailgate.tls import upstream_context
from tests.browser.conftest import SCREENSHOTS, OpenBrowser, login, page_json
from tests.conftest import Upstream
from tests.integration.test_contacts import _mail, contact_values, contacts_settings
from tests.servers.radicale import Radicale

pytestmark = pytest.mark.browser


def _in_radicale(
    radicale: Radicale, url: str, user: str, password: str, draft: ContactDraft
) -> None:
    async def make() -> None:
        ctx = upstream_context(radicale.ca_file)
        async with CardDavClient(url, user, password, ctx, 10) as dav:
            await dav.create(draft)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, make()).result(timeout=30)


def test_suggestions_contacts_screen_and_add_sender(
    open_browser: OpenBrowser,
    make_mailgate: Callable[..., RunningMailgate],
    upstream: Upstream,
    radicale: Radicale,
) -> None:
    email, password = upstream.new_user()
    url = radicale.add_user(email, password)
    tag = secrets.token_hex(3)
    wilma = f"Wilma Sentbox{tag}", f"wilma.{tag}@elsewhere.example"
    harald = f"Harald Inbox{tag}", f"harald.{tag}@elsewhere.example"
    carla = f"Carla Radicale{tag}", f"carla.{tag}@elsewhere.example"
    for person in (wilma, harald, carla):
        contact_values(*person)
    upstream.deliver(email, _mail(email, f"{wilma[0]} <{wilma[1]}>", "sent earlier"), "Sent")
    upstream.deliver(email, _mail(f"{harald[0]} <{harald[1]}>", email, "hello there"))
    _in_radicale(radicale, url, email, password, ContactDraft(carla[0], (carla[1],)))

    mailgate = make_mailgate(**contacts_settings(upstream, radicale))
    page = open_browser(mailgate).page
    login(page, mailgate, email, password)

    # Compose: a correspondent from Sent, chosen with the keyboard.
    page.get_by_test_id("compose-button").click()
    to = page.get_by_test_id("compose-to")
    expect(to).to_have_attribute("role", "combobox")
    to.press_sequentially("Sentbox")
    options = page.get_by_test_id("compose-to-suggestions").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text(wilma[1])
    expect(to).to_have_attribute("aria-expanded", "true")
    page.screenshot(path=str(SCREENSHOTS / "contacts-suggestions.png"))
    to.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(to).to_have_attribute("aria-activedescendant", options.first.get_attribute("id") or "")
    to.press("Enter")
    expect(to).to_have_value(f"{wilma[0]} <{wilma[1]}>, ")
    expect(to).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_test_id("compose-send")).to_be_visible()  # Enter did not send

    # A contact made in Radicale, chosen with the pointer, in Cc.
    page.get_by_test_id("compose-show-cc").click()
    cc = page.get_by_test_id("compose-cc")
    cc.press_sequentially("Radicale")
    cc_options = page.get_by_test_id("compose-cc-suggestions").get_by_role("option")
    expect(cc_options).to_have_count(1)
    expect(cc_options.first).to_contain_text(carla[0])
    cc_options.first.click()
    expect(cc).to_have_value(f"{carla[0]} <{carla[1]}>, ")

    # Escape closes the list only; the form stays.
    page.get_by_test_id("compose-show-bcc").click()
    bcc = page.get_by_test_id("compose-bcc")
    bcc.press_sequentially("Inbox" + tag)
    expect(page.get_by_test_id("compose-bcc-suggestions").get_by_role("option")).to_have_count(1)
    bcc.press("Escape")
    expect(page.get_by_test_id("compose-bcc-suggestions")).to_be_hidden()
    expect(bcc).to_be_visible()
    page.get_by_test_id("compose-discard").click()
    page.get_by_test_id("dialog-confirm").click()  # the app's own dialog
    expect(page.get_by_test_id("compose-send")).to_have_count(0)

    # The Contacts screen: the Radicale contact, search, add, edit, delete.
    page.get_by_test_id("contacts-button").click()
    view = page.get_by_test_id("contacts-view")
    expect(view).to_be_visible()
    expect(page.locator("#contacts-title")).to_be_focused()
    rows = page.get_by_test_id("contact-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(carla[0])

    page.get_by_test_id("contacts-add").click()
    dora = f"Dora Added{tag}", f"dora.{tag}@elsewhere.example"
    contact_values(*dora)
    page.get_by_test_id("contact-name-input").fill(dora[0])
    page.get_by_test_id("contact-emails-input").fill(dora[1])
    page.get_by_test_id("contact-save").click()
    expect(rows).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "contacts-screen.png"))

    page.get_by_test_id("contacts-search").fill("Dora")
    expect(rows).to_have_count(1)
    rows.first.get_by_test_id("contact-edit").click()
    renamed = f"Dora Renamed{tag}"
    contact_values(renamed, dora[1])
    page.get_by_test_id("contact-name-input").fill(renamed)
    page.get_by_test_id("contact-save").click()
    expect(rows.first).to_contain_text(renamed)

    rows.first.get_by_test_id("contact-delete").click()
    # The app's own dialog names the contact before anything is deleted.
    expect(page.get_by_test_id("confirm-dialog").get_by_role("heading")).to_contain_text(renamed)
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("contacts-note")).not_to_be_empty()
    expect(rows).to_have_count(0)
    page.get_by_test_id("contacts-search").fill("")
    expect(rows).to_have_count(1)
    page.get_by_test_id("contacts-close").click()
    expect(view).to_be_hidden()

    # The reader: "Add sender to contacts".
    page.get_by_test_id("message-row").first.click()
    page.get_by_test_id("add-sender").click()
    expect(page.locator("#status")).not_to_be_empty()
    listed = page_json(page, "/api/contacts")["body"]["contacts"]
    assert sorted((c["name"], c["emails"][0]) for c in listed) == sorted([carla, harald])
