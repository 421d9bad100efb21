"""The inbox's unread badge counts each message once (real Chromium, pymap sandbox).

Two sources move the badge: the page's own change after an action (open, mark read or
unread, bulk actions) and the live counts of GET /api/events, which are absolute
(STATUS). When the live count that already includes the change arrived before the
action's answer, the page used to apply its own change on top: 5 unread showed 3 for a
second until a refresh. Here the action's answer is held back (as a slow network or a
busy reading worker would) so that the live event certainly arrives first, and every
value the badge shows is recorded.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Mailbox, SignedIn

pytestmark = pytest.mark.browser

ROW = "message-row"
BADGE = '[data-testid="mailbox"][data-role="inbox"]'
HOLD_MS = 1_500  # the action's answer waits this long: the live event comes first
WATCH_MS = 2_500  # how long after the action the badge is watched

# Every value the inbox badge shows: each change (a MutationObserver on the mailbox
# list) and a sample every 50 ms. "0" when there is no badge.
RECORDER = """(badge) => {
  const read = () => {
    const el = document.querySelector(`${badge} .mailbox-unread [aria-hidden]`);
    return el ? el.textContent : "0";
  };
  const seen = [read()];
  const note = () => { const v = read(); if (v !== seen[seen.length - 1]) seen.push(v); };
  window.__badgeObserver?.disconnect();
  clearInterval(window.__badgeTimer);
  window.__badgeObserver = new MutationObserver(note);
  window.__badgeObserver.observe(document.querySelector("#mailbox-list"),
                                 {childList: true, subtree: true, characterData: true});
  window.__badgeTimer = setInterval(note, 50);
  window.__badgeSeen = seen;
}"""


def _record(page: Page) -> None:
    page.evaluate(RECORDER, BADGE)


def _recorded(page: Page) -> list[str]:
    seen: list[str] = page.evaluate("() => window.__badgeSeen.slice()")
    return seen


# The page's fetch, wrapped: answers to a method on matching paths reach the page `ms`
# after they came (the server has acted meanwhile, so its live event is on its way).
# window.__held lists the paths held.
HOLDER = """(rule) => {
  window.__rules = [...(window.__rules || []), rule];
  if (window.__held) return;
  const plain = window.fetch;
  window.__held = [];
  window.fetch = async (url, init) => {
    const res = await plain(url, init);
    const target = new URL(url, location.href).pathname;
    const method = ((init && init.method) || "GET").toUpperCase();
    const rule = window.__rules.find((r) => r.method === method && new RegExp(r.path).test(target));
    if (rule) {
      window.__held.push(target);
      await new Promise((resolve) => setTimeout(resolve, rule.ms));
    }
    return res;
  };
}"""


def _hold(page: Page, method: str, path: str, ms: int = HOLD_MS) -> None:
    """Hold back answers; a later call adds a rule to the ones before."""
    page.evaluate(HOLDER, {"method": method, "path": path, "ms": ms})


def _held(page: Page) -> list[str]:
    held: list[str] = page.evaluate("() => window.__held.slice()")
    return held


def _settled_inbox(page: Page, count: int) -> None:
    expect(page.locator(f"{BADGE} .mailbox-unread [aria-hidden]")).to_have_text(str(count))
    page.wait_for_timeout(1_500)  # the event stream is open and has said its first counts


def _signed_in(signed_in: SignedIn, seeded_user: Mailbox) -> Page:
    page = signed_in(seeded_user).page
    _settled_inbox(page, 5)
    return page


def _watch(page: Page) -> list[str]:
    page.wait_for_timeout(WATCH_MS)
    return _recorded(page)


MESSAGE = r"^/api/messages/[^/]+$"
LIST = r"^/api/mailboxes/[^/]+/messages$"


def test_opening_an_unread_message_counts_it_once(
    signed_in: SignedIn, seeded_user: Mailbox
) -> None:
    page = _signed_in(signed_in, seeded_user)
    _hold(page, "GET", MESSAGE)
    _record(page)
    page.get_by_test_id(ROW).filter(has_text=seeded_user.subjects["lunch"]).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(seeded_user.subjects["lunch"])
    assert _held(page), "the message's answer was not held back"
    assert _watch(page) == ["5", "4"]


def test_marking_unread_counts_it_once(signed_in: SignedIn, seeded_user: Mailbox) -> None:
    page = _signed_in(signed_in, seeded_user)
    page.get_by_test_id(ROW).filter(has_text=seeded_user.subjects["lunch"]).click()
    _settled_inbox(page, 4)
    _hold(page, "PATCH", MESSAGE)
    # The list the live event reloads comes even later: the page cannot learn from it.
    _hold(page, "GET", LIST, HOLD_MS + 500)
    _record(page)
    page.get_by_test_id("mark-unread").click()
    expect(page.get_by_test_id("mark-read")).to_be_visible()
    assert _held(page), "the flag change's answer was not held back"
    assert _watch(page) == ["4", "5"]
    # And read again from the reader's button.
    _record(page)
    page.get_by_test_id("mark-read").click()
    expect(page.get_by_test_id("mark-unread")).to_be_visible()
    assert _watch(page) == ["5", "4"]


def _select(page: Page, *subjects: str) -> None:
    for subject in subjects:
        item = page.locator(".message-item").filter(has_text=subject)
        item.get_by_test_id("row-select").check()


@pytest.mark.parametrize(("action", "before", "after"), [("read", "5", "3"), ("unread", "3", "5")])
def test_bulk_read_and_unread_count_each_message_once(
    signed_in: SignedIn, seeded_user: Mailbox, action: str, before: str, after: str
) -> None:
    page = _signed_in(signed_in, seeded_user)
    two = (seeded_user.subjects["lunch"], seeded_user.subjects["holiday"])
    if action == "unread":
        _select(page, *two)
        page.get_by_test_id("bulk-read").click()
        _settled_inbox(page, 3)
    _select(page, *two)
    _record(page)
    page.get_by_test_id(f"bulk-{action}").click()
    assert _watch(page) == [before, after]


def test_opening_the_same_unread_message_twice_at_once_counts_it_once(
    signed_in: SignedIn, seeded_user: Mailbox
) -> None:
    page = _signed_in(signed_in, seeded_user)
    _hold(page, "GET", MESSAGE)
    _hold(page, "GET", LIST, HOLD_MS + 500)  # the list still says unread at the second
    _record(page)
    row = page.get_by_test_id(ROW).filter(has_text=seeded_user.subjects["lunch"])
    row.click()
    page.wait_for_timeout(200)
    row.click()  # the first answer is still on its way
    expect(page.get_by_test_id("reader-subject")).to_have_text(seeded_user.subjects["lunch"])
    assert len([p for p in _held(page) if p.startswith("/api/messages/")]) == 2
    assert _watch(page) == ["5", "4"]


def test_deleting_an_unread_message_and_undo_count_it_once(
    signed_in: SignedIn, seeded_user: Mailbox
) -> None:
    page = _signed_in(signed_in, seeded_user)
    _hold(page, "POST", r"^/api/messages/actions$")
    _select(page, seeded_user.subjects["lunch"])
    _record(page)
    page.get_by_test_id("bulk-delete").click()
    expect(page.get_by_test_id(ROW)).to_have_count(4)
    assert _held(page)
    assert _watch(page) == ["5", "4"]
    _record(page)
    page.get_by_test_id("undo").click()
    expect(page.get_by_test_id(ROW)).to_have_count(5)
    assert len(_held(page)) == 2
    assert _watch(page) == ["4", "5"]
