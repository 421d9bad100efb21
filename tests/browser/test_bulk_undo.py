"""Choosing many messages (checkboxes, Shift ranges, Ctrl, "x", all on the page), acting on
them at once, Undo for moves and deletes, dragging rows onto a folder, the "?" overlay and
the list's single tab stop (issue 17)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from mailgate.testing.servers import RunningMailgate
from tests.browser.conftest import Mailbox, OpenBrowser, login, page_json, put_preferences
from tests.browser.test_i18n import AXE_JS, _axe
from tests.conftest import Upstream
from tests.integration.mailfactory import plain_message

pytestmark = pytest.mark.browser
ROW = "message-row"


def _ids(page: Page) -> list[str]:
    return page.get_by_test_id(ROW).evaluate_all("rows => rows.map(r => r.dataset.id)")


def _subjects(page: Page) -> list[str]:
    return page.locator(".row-subject").all_inner_texts()


def _box_id(page: Page, name: str) -> str:
    boxes = page_json(page, "/api/mailboxes")["body"]["mailboxes"]
    return next(b["id"] for b in boxes if b["name"] == name or b["role"] == name)


def _listed(page: Page, box: str) -> list[str]:
    body = page_json(page, f"/api/mailboxes/{_box_id(page, box)}/messages")["body"]
    return sorted(m["subject"] for m in body["messages"])


def _total(page: Page, box: str) -> int:
    boxes = page_json(page, "/api/mailboxes")["body"]["mailboxes"]
    return next(b["total"] for b in boxes if b["name"] == box or b["role"] == box)


def _with_projects(upstream: Upstream, user: Mailbox) -> None:
    upstream.deliver(user.email, plain_message(90, subject="Project kickoff"), mailbox="Projects")


def test_three_messages_are_chosen_moved_in_one_action_and_undone(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox, upstream: Upstream
) -> None:
    _with_projects(upstream, seeded_user)
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)
    before = _subjects(page)
    checks = page.get_by_test_id("row-select")
    bar = page.get_by_test_id("bulk-bar")
    expect(bar).to_be_hidden()

    checks.nth(0).click()
    expect(bar).to_be_visible()
    expect(page.get_by_test_id("bulk-count")).to_have_text("1 selected")
    checks.nth(2).click(modifiers=["Shift"])  # a range: rows 1 to 3
    expect(page.get_by_test_id("bulk-count")).to_have_text("3 selected")
    for i, on in enumerate([True, True, True, False, False]):
        (expect(checks.nth(i)).to_be_checked if on else expect(checks.nth(i)).not_to_be_checked)()
    expect(page.get_by_test_id("select-all")).to_have_js_property("indeterminate", True)
    assert page.get_by_test_id("reader-subject").count() == 0  # choosing opened nothing

    page.get_by_test_id("bulk-move-select").select_option(label="Projects")
    page.get_by_test_id("bulk-move").click()
    expect(rows).to_have_count(2)
    toast = page.get_by_test_id("undo-toast")
    expect(toast).to_contain_text("3 messages moved to Projects.")
    expect(bar).to_be_hidden()
    assert _subjects(page) == before[3:]
    assert _listed(page, "Projects") == sorted([*before[:3], "Project kickoff"])
    # Focus went to the row that took their place, not to <body>.
    expect(rows.first).to_be_focused()

    page.get_by_test_id("undo").click()
    expect(rows).to_have_count(5)
    expect(page.locator("#status")).to_have_text("Undone: 3 messages are back.")
    assert _subjects(page) == before
    assert _listed(page, "Projects") == ["Project kickoff"]
    expect(toast).not_to_have_class("undo-toast visible")
    # Focus lands on one of the messages that came back, once the list shows their new ids.
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="message-row"]')]
            .slice(0, 3).map((r) => r.dataset.id)
            .includes(document.activeElement?.dataset?.id)"""
    )


def test_keyboard_selection_flags_marks_read_and_deletes_with_undo(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    if AXE_JS.is_file():
        page.add_init_script(path=str(AXE_JS))
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)
    checks = page.get_by_test_id("row-select")

    # "x" chooses the focused row; the arrows move on without opening anything.
    rows.first.focus()
    page.keyboard.press("x")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")
    expect(page.get_by_test_id("bulk-count")).to_have_text("2 selected")
    page.get_by_test_id("bulk-flag").click()
    expect(page.locator("#status")).to_have_text("2 messages flagged.")
    expect(page.locator(".message-row.flagged")).to_have_count(2)
    expect(page.get_by_test_id("bulk-bar")).to_be_hidden()
    for i in range(5):
        expect(checks.nth(i)).not_to_be_checked()

    # All on the page, then mark read.
    page.get_by_test_id("select-all").check()
    expect(page.get_by_test_id("bulk-count")).to_have_text("5 selected")
    if AXE_JS.is_file():
        assert _axe(page) == []  # the list with its checkboxes and the action bar
    page.get_by_test_id("bulk-read").click()
    expect(page.locator(".message-row.unread")).to_have_count(0)
    expect(page.locator("#status")).to_have_text("5 messages marked as read.")
    inbox = next(
        b for b in page_json(page, "/api/mailboxes")["body"]["mailboxes"] if b["role"] == "inbox"
    )
    assert inbox["unread"] == 0

    # Ctrl-click chooses one row; Delete moves it to Trash; "z" undoes that.
    target = _ids(page)[3]
    subject = _subjects(page)[3]
    rows.nth(3).click(modifiers=["Control"])
    expect(page.get_by_test_id("bulk-count")).to_have_text("1 selected")
    assert page.get_by_test_id("reader-subject").count() == 0
    page.keyboard.press("Delete")
    expect(rows).to_have_count(4)
    expect(page.get_by_test_id("undo-toast")).to_contain_text("1 message moved to Trash.")
    if AXE_JS.is_file():
        page.get_by_test_id("undo-toast").hover()  # kept while the pointer is on it
        assert _axe(page) == []  # with the Undo toast showing
    assert target not in _ids(page)
    assert _listed(page, "trash") == [subject]
    page.keyboard.press("z")
    expect(rows).to_have_count(5)
    # The restored message takes the focus once its row is drawn (after any live update
    # that drew the list meanwhile); the keys below start from there.
    expect(rows.filter(has_text=subject)).to_be_focused()
    assert subject in _subjects(page)
    assert _listed(page, "trash") == []

    # Shift+arrows choose a range from the row left, and shrink it on the way back.
    page.keyboard.press("Escape")
    rows.nth(1).focus()
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    expect(page.get_by_test_id("bulk-count")).to_have_text("3 selected")
    page.keyboard.press("Shift+ArrowUp")
    expect(page.get_by_test_id("bulk-count")).to_have_text("2 selected")
    for i, on in enumerate([False, True, True, False, False]):
        (expect(checks.nth(i)).to_be_checked if on else expect(checks.nth(i)).not_to_be_checked)()
    page.get_by_test_id("bulk-clear").click()

    # Escape clears a selection.
    checks.nth(0).click()
    expect(page.get_by_test_id("bulk-bar")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("bulk-bar")).to_be_hidden()


def test_delete_from_the_reader_can_be_undone(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    subject = _subjects(page)[1]
    rows.nth(1).click()
    expect(page.get_by_test_id("reader-subject")).to_have_text(subject)
    page.get_by_test_id("delete").click()
    expect(rows).to_have_count(4)
    expect(page.get_by_test_id("undo-toast")).to_contain_text("Moved to Trash.")
    page.get_by_test_id("undo").click()
    expect(rows).to_have_count(5)
    assert subject in _subjects(page)
    assert _listed(page, "trash") == []


def test_rows_dragged_onto_a_folder_move_there(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox, upstream: Upstream
) -> None:
    _with_projects(upstream, seeded_user)
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)
    subjects = _subjects(page)
    projects = page.locator('[data-testid="mailbox"]', has_text="Projects")

    # One row, not chosen: just that row goes.
    rows.nth(4).drag_to(projects)
    expect(rows).to_have_count(4)
    expect(page.get_by_test_id("undo-toast")).to_contain_text("1 message moved to Projects.")
    assert _listed(page, "Projects") == sorted(["Project kickoff", subjects[4]])

    # A chosen row carries the whole selection.
    checks = page.get_by_test_id("row-select")
    checks.nth(0).click()
    checks.nth(1).click()
    rows.nth(1).drag_to(projects)
    expect(rows).to_have_count(2)
    assert _subjects(page) == subjects[2:4]
    assert _listed(page, "Projects") == sorted(["Project kickoff", *subjects[:2], subjects[4]])
    page.get_by_test_id("undo").click()
    expect(rows).to_have_count(4)


def test_the_list_is_one_tab_stop_and_question_mark_lists_the_shortcuts(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    if AXE_JS.is_file():
        page.add_init_script(path=str(AXE_JS))
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)

    def stops() -> list[int]:
        return rows.evaluate_all("rows => rows.map(r => r.tabIndex)")

    assert stops() == [0, -1, -1, -1, -1]
    # The checkboxes are not tab stops either.
    assert (
        page.get_by_test_id("row-select").evaluate_all("boxes => boxes.map(b => b.tabIndex)")
        == [-1] * 5
    )
    rows.first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(rows.nth(2)).to_be_focused()
    assert stops() == [-1, -1, 0, -1, -1]
    page.keyboard.press("End")
    expect(rows.nth(4)).to_be_focused()
    page.keyboard.press("Home")
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    second = _ids(page)[1]
    # Tab leaves the list from its one stop; Shift+Tab comes back to the same row.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#message-list') === null")
    page.keyboard.press("Shift+Tab")
    expect(rows.nth(1)).to_be_focused()
    # The stop stays on that message when the list is drawn again (here: sorted twice).
    sort = page.get_by_test_id("sort-select")
    newest = _ids(page)[0]
    sort.select_option("date_asc")
    expect(rows.last).to_have_attribute("data-id", newest)
    sort.select_option("date_desc")
    expect(rows.nth(1)).to_have_attribute("data-id", second)
    sort.focus()
    page.keyboard.press("Tab")
    expect(page.locator(f'[data-testid="{ROW}"][data-id="{second}"]')).to_be_focused()
    page.keyboard.press("?")
    dialog = page.get_by_test_id("shortcuts-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Keyboard shortcuts")
    listed = dialog.locator(".shortcut")
    expect(listed.filter(has_text="Select or unselect the message").locator("kbd")).to_have_text(
        "x"
    )
    expect(listed.filter(has_text="Undo the last move or delete").locator("kbd")).to_have_text("z")
    expect(
        listed.filter(has_text="Archive the selected messages, or the open one").locator("kbd")
    ).to_have_text("e")
    expect(listed).to_have_count(23)
    expect(
        listed.filter(has_text="Select every message up to this one").locator("kbd")
    ).to_have_text(["Shift + click", "Shift + ↓/↑"])
    if AXE_JS.is_file():
        assert _axe(page) == []
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.locator(f'[data-testid="{ROW}"][data-id="{second}"]')).to_be_focused()


def test_keys_act_on_the_open_message_or_on_the_selection(
    mailgate: RunningMailgate, open_browser: OpenBrowser, seeded_user: Mailbox
) -> None:
    page = open_browser(mailgate).page
    login(page, mailgate, seeded_user.email, seeded_user.password)
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(5)
    subjects = _subjects(page)
    reader = page.get_by_test_id("reader-subject")

    # n and p open the next and the previous message while reading.
    rows.first.click()
    expect(reader).to_have_text(subjects[0])
    page.keyboard.press("n")
    expect(reader).to_have_text(subjects[1])
    page.keyboard.press("n")
    expect(reader).to_have_text(subjects[2])
    page.keyboard.press("p")
    expect(reader).to_have_text(subjects[1])

    # s flags the open message, U marks it unread, I read again.
    page.keyboard.press("s")
    expect(page.get_by_test_id("flag-toggle")).to_have_attribute("aria-pressed", "true")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bflagged\b"))
    page.keyboard.press("Shift+U")
    expect(page.get_by_test_id("mark-read")).to_be_visible()
    expect(rows.nth(1)).to_have_class(re.compile(r"\bunread\b"))
    page.keyboard.press("Shift+I")
    expect(page.get_by_test_id("mark-unread")).to_be_visible()
    expect(rows.nth(1)).not_to_have_class(re.compile(r"\bunread\b"))

    # With rows chosen the keys act on them: s flags all, s again unflags all, ! is junk.
    page.keyboard.press("Escape")
    expect(reader).to_have_count(0)
    checks = page.get_by_test_id("row-select")
    checks.nth(3).click()
    checks.nth(4).click()
    page.keyboard.press("s")
    expect(page.locator("#status")).to_have_text("2 messages flagged.")
    expect(page.locator(".message-row.flagged")).to_have_count(3)
    checks.nth(3).click()
    checks.nth(4).click()
    page.keyboard.press("s")
    expect(page.locator("#status")).to_have_text("2 messages unflagged.")
    expect(page.locator(".message-row.flagged")).to_have_count(1)
    checks.nth(3).click()
    checks.nth(4).click()
    page.keyboard.press("!")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("undo-toast")).to_contain_text("2 messages marked as junk.")
    assert _listed(page, "junk") == sorted(subjects[3:])


def test_all_messages_past_the_page_are_chosen_deleted_and_undone_in_chunks(
    mailgate: RunningMailgate, open_browser: OpenBrowser, upstream: Upstream
) -> None:
    # 205 messages on pages of 200: "select all" reaches past the page, and the action
    # and its undo go out in chunks of at most 200 ids (the API's bound).
    email, password = upstream.new_user()
    total = 205
    for n in range(total):
        upstream.deliver(email, plain_message(n, subject=f"Bulk {n:03d}", to=email))
    page = open_browser(mailgate).page
    login(page, mailgate, email, password)
    put_preferences(page, {"page_size": 200})
    page.reload()
    rows = page.get_by_test_id(ROW)
    expect(rows).to_have_count(200)
    posted: list[int] = []
    page.on(
        "request",
        lambda r: (
            posted.append(len(r.post_data_json["ids"]))
            if r.url.endswith("/api/messages/actions")
            else None
        ),
    )

    # The order of list loads and action requests: each message moved is news on the live
    # feed, and a list load on that news between the chunks would take the session's mail
    # connection from the action (205 moves took 55 s on pymap that way, on a slow VM).
    order: list[str] = []
    page.on(
        "request",
        lambda r: (
            order.append("list")
            if r.method == "GET" and "/messages?" in r.url
            else (order.append("act") if r.url.endswith("/api/messages/actions") else None)
        ),
    )
    page.on(
        "requestfinished",
        lambda r: order.append("acted") if r.url.endswith("/api/messages/actions") else None,
    )

    page.get_by_test_id("select-all").check()
    expect(page.get_by_test_id("bulk-count")).to_have_text("200 selected")
    more = page.get_by_test_id("bulk-select-matching")
    expect(more).to_have_text(f"Select all {total} messages")
    more.click()
    expect(page.get_by_test_id("bulk-count")).to_have_text(f"{total} selected")
    expect(more).to_be_hidden()
    page.get_by_test_id("bulk-delete").click()
    expect(page.get_by_test_id("undo-toast")).to_contain_text(
        f"{total} messages moved to Trash.", timeout=60_000
    )
    expect(page.locator("#list-empty")).to_be_visible()
    first_act, last_acted = order.index("act"), len(order) - 1 - order[::-1].index("acted")
    assert order[first_act : last_acted + 1] == ["act", "acted", "act", "acted"], order
    assert _total(page, "trash") == total and _total(page, "inbox") == 0
    page.get_by_test_id("undo").click()
    expect(page.locator("#status")).to_have_text(
        f"Undone: {total} messages are back.", timeout=60_000
    )
    expect(rows).to_have_count(200)
    assert _total(page, "trash") == 0 and _total(page, "inbox") == total
    assert posted == [200, 5, 200, 5]

    # Unchoosing one row leaves "all": the action is for the rows chosen on the page.
    page.get_by_test_id("select-all").check()
    more.click()
    expect(page.get_by_test_id("bulk-count")).to_have_text(f"{total} selected")
    page.get_by_test_id("row-select").first.click()
    expect(page.get_by_test_id("bulk-count")).to_have_text("199 selected")
