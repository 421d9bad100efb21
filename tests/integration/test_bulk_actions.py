"""Actions on many messages at once (POST /api/messages/actions), on Dovecot and pymap."""

from __future__ import annotations

from mailgate.mail.ids import decode_message_id, message_id
from tests.integration.mailfactory import plain_message


async def _boxes(api) -> dict[str, dict]:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    return {b["role"] or b["name"]: b for b in boxes}


async def _listed(api, box_id: str) -> list[dict]:
    resp = await api.get(f"/api/mailboxes/{box_id}/messages?limit=200")
    assert resp.status == 200
    return resp.json()["messages"]


async def _act(api, **body):
    return await api.post("/api/messages/actions", json=body)


async def test_many_messages_are_flagged_moved_back_and_deleted_in_one_request(
    upstream, logged_in, user
):
    for i in range(4):
        upstream.deliver(user[0], plain_message(i))
    upstream.deliver(user[0], plain_message(99), mailbox="Projects")
    boxes = await _boxes(logged_in)
    inbox, projects, trash = boxes["inbox"], boxes["Projects"], boxes["trash"]
    listed = await _listed(logged_in, inbox["id"])
    chosen = [m["id"] for m in listed[:3]]
    untouched = listed[3]

    read = await _act(logged_in, action="read", ids=chosen)
    assert read.status == 200
    assert read.json()["results"] == [{"id": i, "new_id": None, "error": None} for i in chosen]
    flagged = await _act(logged_in, action="flag", ids=chosen)
    assert flagged.status == 200
    now = {m["id"]: m for m in await _listed(logged_in, inbox["id"])}
    assert all(now[i]["seen"] and now[i]["flagged"] for i in chosen)
    assert not now[untouched["id"]]["seen"] and not now[untouched["id"]]["flagged"]

    moved = await _act(logged_in, action="move", ids=chosen, mailbox=projects["id"])
    assert moved.status == 200
    results = moved.json()["results"]
    assert [r["id"] for r in results] == chosen and all(r["error"] is None for r in results)
    new_ids = [r["new_id"] for r in results]
    assert all(new_ids), "both servers report COPYUID, so each new id is known"
    in_projects = {m["id"] for m in await _listed(logged_in, projects["id"])}
    assert set(new_ids) <= in_projects and len(in_projects) == 4
    assert [m["id"] for m in await _listed(logged_in, inbox["id"])] == [untouched["id"]]

    # Undo: the new ids go back where they came from.
    back = await _act(logged_in, action="move", ids=new_ids, mailbox=inbox["id"])
    assert back.status == 200 and all(r["error"] is None for r in back.json()["results"])
    subjects = sorted(m["subject"] for m in await _listed(logged_in, inbox["id"]))
    assert subjects == sorted(m["subject"] for m in listed)

    again = [m["id"] for m in (await _listed(logged_in, inbox["id"]))[:2]]
    deleted = await _act(logged_in, action="delete", ids=again)
    assert deleted.status == 200
    in_trash = {m["id"] for m in await _listed(logged_in, trash["id"])}
    trashed = [r["new_id"] for r in deleted.json()["results"]]
    assert all(trashed) and set(trashed) == in_trash
    assert len(await _listed(logged_in, inbox["id"])) == 2
    # In Trash, delete is for good: no new id.
    gone = await _act(logged_in, action="delete", ids=trashed)
    assert [r["new_id"] for r in gone.json()["results"]] == [None, None]
    assert await _listed(logged_in, trash["id"]) == []


async def test_a_stale_or_unknown_message_is_reported_and_the_others_still_happen(
    upstream, logged_in, user
):
    for i in range(2):
        upstream.deliver(user[0], plain_message(i))
    boxes = await _boxes(logged_in)
    listed = await _listed(logged_in, boxes["inbox"]["id"])
    first, second = listed[0]["id"], listed[1]["id"]
    ref = decode_message_id(first)
    stale = message_id(ref.mailbox, ref.uidvalidity + 1, ref.uid)
    resp = await _act(logged_in, action="junk", ids=[stale, "not-an-id", second, second])
    assert resp.status == 200
    results = resp.json()["results"]
    assert [(r["id"], r["error"]) for r in results] == [
        (stale, "stale_message"),
        ("not-an-id", "not_found"),
        (second, None),
    ]
    assert results[2]["new_id"]
    junk = (await _boxes(logged_in))["junk"]
    assert [m["id"] for m in await _listed(logged_in, junk["id"])] == [results[2]["new_id"]]
    # Already in Junk: refused for that message alone.
    again = await _act(logged_in, action="junk", ids=[results[2]["new_id"]])
    assert again.json()["results"][0]["error"] == "bad_request"
    assert [m["id"] for m in await _listed(logged_in, boxes["inbox"]["id"])] == [first]


async def test_bulk_bodies_are_bounded_and_checked(logged_in):
    inbox = (await _boxes(logged_in))["inbox"]
    for body in (
        {"action": "read", "ids": []},
        {"action": "read", "ids": ["x"] * 201},
        {"action": "burn", "ids": ["x"]},
        {"action": "move", "ids": ["x"]},
        {"action": "read", "ids": ["x"], "extra": 1},
        {"action": "read", "ids": [1]},
    ):
        resp = await _act(logged_in, **body)
        assert resp.status == 400, body
        assert resp.json()["error"]["code"] == "bad_request"
    ok = await _act(logged_in, action="move", ids=["x"], mailbox=inbox["id"])
    assert ok.status == 200 and ok.json()["results"][0]["error"] == "not_found"
