"""Folder management through the API on Dovecot and pymap: create (nested), rename and
move, delete, subscribe; special-use Junk and Archive on demand; clear 4xx for refusals."""

from __future__ import annotations

from typing import Any

from mailgate.mail.ids import decode_message_id, mailbox_id
from mailgate.testing.logcheck import CANARIES
from tests.integration.mailfactory import plain_message


async def _boxes(api: Any) -> dict[str, dict[str, Any]]:
    resp = await api.get("/api/mailboxes")
    assert resp.status == 200, resp
    return {b["path"]: b for b in resp.json()["mailboxes"]}


async def _create(api: Any, **body: Any) -> Any:
    return await api.post("/api/mailboxes", json=body)


async def test_create_nested_rename_move_and_delete(upstream, logged_in, user):
    made = await _create(logged_in, name="Projects")
    assert made.status == 201, made
    projects = made.json()
    assert projects["name"] == "Projects" and projects["role"] is None
    assert projects["id"] == mailbox_id("Projects")
    child = await _create(logged_in, name="Käse 2026", parent=projects["id"])
    assert child.status == 201, child
    sep = child.json()["path"][len("Projects")]
    assert child.json()["path"] == f"Projects{sep}Käse 2026"
    assert child.json()["name"] == "Käse 2026"
    boxes = await _boxes(logged_in)
    assert f"Projects{sep}Käse 2026" in boxes

    # A message in the child survives a rename of its parent.
    upstream.deliver(user[0], plain_message(1), mailbox=f"Projects{sep}Käse 2026")
    renamed = await logged_in.request(
        "PATCH", f"/api/mailboxes/{projects['id']}", json={"name": "Work"}
    )
    assert renamed.status == 200, renamed
    assert renamed.json()["path"] == "Work"
    boxes = await _boxes(logged_in)
    assert "Projects" not in boxes
    assert boxes[f"Work{sep}Käse 2026"]["total"] == 1

    # Moved to the top level under a new name, then under another parent again.
    moved = await logged_in.request(
        "PATCH",
        f"/api/mailboxes/{mailbox_id(f'Work{sep}Käse 2026')}",
        json={"name": "Cheese", "parent": None},
    )
    assert moved.status == 200, moved
    assert moved.json()["path"] == "Cheese" and moved.json()["total"] == 1
    back = await logged_in.request(
        "PATCH",
        f"/api/mailboxes/{mailbox_id('Cheese')}",
        json={"name": "Cheese", "parent": mailbox_id("Work")},
    )
    assert back.status == 200, back
    assert back.json()["path"] == f"Work{sep}Cheese"
    # Not into itself.
    into_itself = await logged_in.request(
        "PATCH",
        f"/api/mailboxes/{mailbox_id('Work')}",
        json={"name": "X", "parent": back.json()["id"]},
    )
    assert into_itself.status == 400, into_itself
    assert into_itself.json()["error"]["code"] == "invalid_folder_name"

    deleted = await logged_in.request("DELETE", f"/api/mailboxes/{back.json()['id']}")
    assert deleted.status == 204, deleted
    boxes = await _boxes(logged_in)
    assert f"Work{sep}Cheese" not in boxes and "Work" in boxes
    again = await logged_in.request("DELETE", f"/api/mailboxes/{back.json()['id']}")
    assert again.status == 404


async def test_refusals_are_clear_4xx(upstream, logged_in, user):
    assert (await _create(logged_in, name="Dup")).status == 201
    dup = await _create(logged_in, name="Dup")
    assert dup.status == 409 and dup.json()["error"]["code"] == "mailbox_exists"
    for bad in ("", "  ", "a*b", "50%", "..", "INBOX", "x" * 201, "tab\there"):
        resp = await _create(logged_in, name=bad)
        assert resp.status == 400, (bad, resp)
    boxes = await _boxes(logged_in)
    no_parent = await _create(logged_in, name="x", parent=mailbox_id("No such parent"))
    assert no_parent.status == 404
    bad_role = await _create(logged_in, name="x", role="sent")
    assert bad_role.status == 400

    # INBOX and special-use folders are neither renamed nor deleted.
    for box in boxes.values():
        if box["role"] is None:
            continue
        gone = await logged_in.request("DELETE", f"/api/mailboxes/{box['id']}")
        assert gone.status == 409, (box["role"], gone)
        assert gone.json()["error"]["code"] == "mailbox_protected"
        renamed = await logged_in.request(
            "PATCH", f"/api/mailboxes/{box['id']}", json={"name": "Other"}
        )
        assert renamed.status == 409
    assert set(await _boxes(logged_in)) == set(boxes)
    unknown = await logged_in.request("DELETE", f"/api/mailboxes/{mailbox_id('Nope')}")
    assert unknown.status == 404
    extra = await _create(logged_in, name="x", colour="red")
    assert extra.status == 400


async def test_subscribe_and_unsubscribe(upstream, logged_in, user):
    made = (await _create(logged_in, name="Lists")).json()
    path = f"/api/mailboxes/{made['id']}/subscription"
    off = await logged_in.request("PUT", path, json={"subscribed": False})
    assert off.status == 204, off
    assert (await _boxes(logged_in))["Lists"]["subscribed"] is False
    on = await logged_in.request("PUT", path, json={"subscribed": True})
    assert on.status == 204, on
    assert (await _boxes(logged_in))["Lists"]["subscribed"] is True
    bad = await logged_in.request("PUT", path, json={"subscribed": "yes"})
    assert bad.status == 400
    unknown = await logged_in.request(
        "PUT", f"/api/mailboxes/{mailbox_id('Nope')}/subscription", json={"subscribed": True}
    )
    assert unknown.status == 404


async def test_special_use_folders_are_made_on_demand(upstream, logged_in, user):
    for role, name in (("junk", "Spamfolder"), ("archive", "Old mail")):
        made = await _create(logged_in, name=name, role=role)
        assert made.status == 201, made
        assert made.json()["path"] == name
        listed = (await _boxes(logged_in))[name]
        assert listed["role"] == made.json()["role"]
        if upstream.name == "pymap":
            # No CREATE-SPECIAL-USE there: a plain folder, still usable as one.
            assert made.json()["role"] is None


async def _only(api: Any, path: str) -> list[dict[str, Any]]:
    resp = await api.get(f"/api/mailboxes/{mailbox_id(path)}/messages")
    assert resp.status == 200, resp
    return resp.json()["messages"]


async def _role(api: Any, role: str) -> str | None:
    return next((b["path"] for b in (await _boxes(api)).values() if b["role"] == role), None)


async def test_junk_not_junk_and_restore(upstream, logged_in, user):
    upstream.deliver(user[0], plain_message(1, subject="Cheap watches"))
    upstream.deliver(user[0], plain_message(2, subject="Kept"))
    inbox = await _only(logged_in, "INBOX")
    spam = next(m for m in inbox if m["subject"] == "Cheap watches")

    junked = await logged_in.post(f"/api/messages/{spam['id']}/junk")
    assert junked.status == 200, junked
    junk = await _role(logged_in, "junk") or "Junk"
    in_junk = await _only(logged_in, junk)
    assert [m["subject"] for m in in_junk] == ["Cheap watches"]
    assert [m["subject"] for m in await _only(logged_in, "INBOX")] == ["Kept"]
    if junked.json()["id"]:
        assert junked.json()["id"] == in_junk[0]["id"]
    again = await logged_in.post(f"/api/messages/{in_junk[0]['id']}/junk")
    assert again.status == 400

    back = await logged_in.post(f"/api/messages/{in_junk[0]['id']}/not-junk")
    assert back.status == 200, back
    assert await _only(logged_in, junk) == []
    assert {m["subject"] for m in await _only(logged_in, "INBOX")} == {"Cheap watches", "Kept"}

    # Restore from Trash: to the folder mailgate moved it from, else the inbox.
    assert (await _create(logged_in, name="Receipts")).status == 201
    upstream.deliver(user[0], plain_message(3, subject="Receipt"), mailbox="Receipts")
    (receipt,) = await _only(logged_in, "Receipts")
    assert (await logged_in.request("DELETE", f"/api/messages/{receipt['id']}")).status == 204
    trash = await _role(logged_in, "trash")
    assert trash
    (trashed,) = await _only(logged_in, trash)
    restored = await logged_in.post(f"/api/messages/{trashed['id']}/restore")
    assert restored.status == 200, restored
    assert [m["subject"] for m in await _only(logged_in, "Receipts")] == ["Receipt"]
    assert await _only(logged_in, trash) == []

    # Unknown origin (delivered straight to Trash): back to the inbox.
    upstream.deliver(user[0], plain_message(4, subject="Stray"), mailbox=trash)
    (stray,) = await _only(logged_in, trash)
    assert (await logged_in.post(f"/api/messages/{stray['id']}/restore")).status == 200
    assert "Stray" in {m["subject"] for m in await _only(logged_in, "INBOX")}


async def test_junk_keywords_are_set_and_cleared(upstream, logged_in, user, request):
    upstream.deliver(user[0], plain_message(1, subject="Learn me"))
    (msg,) = await _only(logged_in, "INBOX")
    assert (await logged_in.post(f"/api/messages/{msg['id']}/junk")).status == 200
    junk = await _role(logged_in, "junk") or "Junk"
    (moved,) = await _only(logged_in, junk)
    if upstream.name != "dovecot":
        return  # the move is checked above; the keywords are read from Dovecot below
    dovecot = request.getfixturevalue("dovecot")

    async def flags(path: str) -> set[str]:
        client = await dovecot.open_client(*user)
        try:
            (summary,) = await client.summaries(path, [decode_message_id(moved["id"]).uid])
            return set(summary.flags)
        finally:
            await client.logout()

    got = await flags(junk)
    assert "$Junk" in got and "$NotJunk" not in got
    back = await logged_in.post(f"/api/messages/{moved['id']}/not-junk")
    assert back.status == 200
    (home,) = await _only(logged_in, "INBOX")
    moved = home
    got = await flags("INBOX")
    assert "$NotJunk" in got and "$Junk" not in got
    # Junk again: $NotJunk goes.
    assert (await logged_in.post(f"/api/messages/{home['id']}/junk")).status == 200
    (moved,) = await _only(logged_in, junk)
    got = await flags(junk)
    assert "$Junk" in got and "$NotJunk" not in got


async def test_empty_trash_and_junk(upstream, logged_in, user):
    trash = await _role(logged_in, "trash")
    assert trash
    for n in range(3):
        upstream.deliver(user[0], plain_message(n), mailbox=trash)
    upstream.deliver(user[0], plain_message(9, subject="Stays"))
    trash_id = mailbox_id(trash)
    emptied = await logged_in.post(f"/api/mailboxes/{trash_id}/empty")
    assert emptied.status == 200, emptied
    assert emptied.json() == {"deleted": 3}
    assert await _only(logged_in, trash) == []
    assert [m["subject"] for m in await _only(logged_in, "INBOX")] == ["Stays"]
    assert (await logged_in.post(f"/api/mailboxes/{trash_id}/empty")).json() == {"deleted": 0}
    refused = await logged_in.post(f"/api/mailboxes/{mailbox_id('INBOX')}/empty")
    assert refused.status == 400
    assert len(await _only(logged_in, "INBOX")) == 1
    unknown = await logged_in.post(f"/api/mailboxes/{mailbox_id('Nope')}/empty")
    assert unknown.status == 404


async def test_a_name_the_server_refuses_is_a_clear_4xx_and_stays_out_of_the_logs(
    upstream, logged_in, user
):
    # Dovecot refuses a leading "~" (and, with its "." separator layout, dots); pymap takes both.
    name = "~Refused folder Quetzal"
    CANARIES.add(name, "Refused folder Quetzal", kind="mailbox name")
    made = await _create(logged_in, name=name)
    if upstream.name == "dovecot":
        assert made.status == 422, made
        assert made.json()["error"]["code"] == "mailbox_refused"
        assert "Quetzal" not in str(made.json())
        assert name not in await _boxes(logged_in)
    else:
        assert made.status == 201
    # The session and its connection go on working.
    assert (await logged_in.get("/api/mailboxes")).status == 200


async def test_the_open_folder_can_be_renamed_and_deleted(upstream, logged_in, user):
    assert (await _create(logged_in, name="Open one")).status == 201
    upstream.deliver(user[0], plain_message(1, subject="Inside"), mailbox="Open one")
    assert [m["subject"] for m in await _only(logged_in, "Open one")] == ["Inside"]  # selected
    renamed = await logged_in.request(
        "PATCH", f"/api/mailboxes/{mailbox_id('Open one')}", json={"name": "Still open"}
    )
    assert renamed.status == 200, renamed
    assert [m["subject"] for m in await _only(logged_in, "Still open")] == ["Inside"]
    gone = await logged_in.request("DELETE", f"/api/mailboxes/{mailbox_id('Still open')}")
    assert gone.status == 204, gone
    assert "Still open" not in await _boxes(logged_in)
    stale = await logged_in.get(f"/api/mailboxes/{mailbox_id('Still open')}/messages")
    assert stale.status == 404
    upstream.deliver(user[0], plain_message(2, subject="Elsewhere"))
    assert [m["subject"] for m in await _only(logged_in, "INBOX")] == ["Elsewhere"]
