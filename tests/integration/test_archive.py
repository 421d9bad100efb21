"""Archive (issue 17) through the API on Dovecot (which has a \\Archive mailbox) and pymap
(which has none, and no SPECIAL-USE): one message and a selection, the folder made on
demand, refused from the Archive itself, and undone by moving back with the new ids."""

from __future__ import annotations

from typing import Any

from mailgate.mail.ids import decode_message_id, mailbox_id
from tests.integration.mailfactory import plain_message


async def _boxes(api: Any) -> dict[str, dict[str, Any]]:
    resp = await api.get("/api/mailboxes")
    assert resp.status == 200, resp
    return {b["path"]: b for b in resp.json()["mailboxes"]}


async def _listed(api: Any, path: str) -> list[dict[str, Any]]:
    resp = await api.get(f"/api/mailboxes/{mailbox_id(path)}/messages")
    assert resp.status == 200, resp
    return resp.json()["messages"]


async def _subjects(api: Any, path: str) -> set[str]:
    return {m["subject"] for m in await _listed(api, path)}


async def test_archive_one_and_many_and_undo(upstream, logged_in, user):
    for n, subject in enumerate(("Keep this", "Old news", "Older news", "Stays"), start=1):
        upstream.deliver(user[0], plain_message(n, subject=subject))
    before = await _boxes(logged_in)
    if upstream.name == "dovecot":
        # The test Dovecot marks "Archive" \Archive (SPECIAL-USE).
        assert before["Archive"]["role"] == "archive"
    else:
        assert "Archive" not in before
        assert all(b["role"] != "archive" for b in before.values())
    inbox = {m["subject"]: m["id"] for m in await _listed(logged_in, "INBOX")}

    one = await logged_in.post(f"/api/messages/{inbox['Keep this']}/archive")
    assert one.status == 200, one
    after = await _boxes(logged_in)
    assert after["Archive"]["role"] == "archive"  # made on pymap, by its name a role there
    assert len(after) == len(before) + (0 if upstream.name == "dovecot" else 1)
    (archived,) = await _listed(logged_in, "Archive")
    assert archived["subject"] == "Keep this"
    assert one.json()["id"] == archived["id"]
    assert decode_message_id(archived["id"]).mailbox == "Archive"
    assert "Keep this" not in await _subjects(logged_in, "INBOX")

    # Archiving from the Archive itself is refused, clearly, and changes nothing.
    again = await logged_in.post(f"/api/messages/{archived['id']}/archive")
    assert again.status == 400, again
    assert "Archive" in again.json()["error"]["message"]
    assert [m["id"] for m in await _listed(logged_in, "Archive")] == [archived["id"]]

    # A selection: each through the same step; the one already there gets its error code.
    ids = [inbox["Old news"], inbox["Older news"], archived["id"]]
    acted = await logged_in.post("/api/messages/actions", json={"action": "archive", "ids": ids})
    assert acted.status == 200, acted
    results = acted.json()["results"]
    assert [r["id"] for r in results] == ids
    assert [r["error"] for r in results] == [None, None, "bad_request"]
    assert await _subjects(logged_in, "Archive") == {"Keep this", "Old news", "Older news"}
    assert await _subjects(logged_in, "INBOX") == {"Stays"}
    new_ids = [r["new_id"] for r in results[:2]]
    assert all(new_ids)  # both servers have UIDPLUS: the UI's undo needs these
    assert {decode_message_id(i).mailbox for i in new_ids} == {"Archive"}

    # Undo, as the UI does it: move the new ids back to where they were.
    undone = await logged_in.post(
        "/api/messages/actions",
        json={"action": "move", "ids": new_ids, "mailbox": mailbox_id("INBOX")},
    )
    assert undone.status == 200, undone
    assert all(r["error"] is None for r in undone.json()["results"])
    assert await _subjects(logged_in, "INBOX") == {"Stays", "Old news", "Older news"}
    assert await _subjects(logged_in, "Archive") == {"Keep this"}

    bad = await logged_in.post("/api/messages/actions", json={"action": "archives", "ids": ids})
    assert bad.status == 400
    assert "archive" in bad.json()["error"]["message"]


async def test_archive_goes_to_an_existing_archive_folder(upstream, logged_in, user):
    """pymap: an "Archive" mailbox delivered to beforehand (not marked: no SPECIAL-USE) is
    used, not a second one made; Dovecot: its \\Archive mailbox."""
    upstream.deliver(user[0], plain_message(1, subject="Filed before"), mailbox="Archive")
    upstream.deliver(user[0], plain_message(2, subject="File me"))
    before = await _boxes(logged_in)
    (msg,) = await _listed(logged_in, "INBOX")
    moved = await logged_in.post(f"/api/messages/{msg['id']}/archive")
    assert moved.status == 200, moved
    assert await _subjects(logged_in, "Archive") == {"Filed before", "File me"}
    assert set(await _boxes(logged_in)) == set(before)


async def test_a_nested_folder_named_archive_is_not_the_archive(upstream, logged_in, user):
    """Only the \\Archive mailbox or a top-level "Archive" is the archive: with just
    "Projects/Archive" (pymap), a top-level Archive is made and the nested one stays as it
    is."""
    made = await logged_in.post("/api/mailboxes", json={"name": "Projects"})
    assert made.status == 201, made
    child = await logged_in.post(
        "/api/mailboxes", json={"name": "Archive", "parent": made.json()["id"]}
    )
    assert child.status == 201, child
    nested = child.json()["path"]
    assert nested != "Archive"
    upstream.deliver(user[0], plain_message(1, subject="Where to"))
    (msg,) = await _listed(logged_in, "INBOX")
    moved = await logged_in.post(f"/api/messages/{msg['id']}/archive")
    assert moved.status == 200, moved
    assert decode_message_id(moved.json()["id"]).mailbox == "Archive"
    assert await _subjects(logged_in, "Archive") == {"Where to"}
    assert await _listed(logged_in, nested) == []
    boxes = await _boxes(logged_in)
    assert boxes["Archive"]["role"] == "archive"
    assert boxes[nested]["role"] is None
