"""Folder management through the API on Dovecot and pymap: create (nested), rename and
move, delete, subscribe; special-use Junk and Archive on demand; clear 4xx for refusals."""

from __future__ import annotations

from typing import Any

from mailgate.mail.ids import mailbox_id
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
