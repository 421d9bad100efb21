"""Undo of "Mark as junk" (issue 17): restore, alone or as the bulk action, puts the message
back where it was and sets $Junk and $NotJunk back as they were (read from Dovecot, which
keeps keywords; pymap keeps none, so there only the move is checked)."""

from __future__ import annotations

from typing import Any

import pytest

from mailgate.mail.ids import decode_message_id, mailbox_id
from tests.integration.mailfactory import plain_message


async def _listed(api: Any, path: str) -> list[dict[str, Any]]:
    resp = await api.get(f"/api/mailboxes/{mailbox_id(path)}/messages")
    assert resp.status == 200, resp
    return resp.json()["messages"]


async def _mark(request: Any, user: tuple[str, str], message: str, keyword: str) -> None:
    """Set a keyword as another client (or the server's filter) would, on Dovecot."""
    ref = decode_message_id(message)
    client = await request.getfixturevalue("dovecot").open_client(*user)
    try:
        await client.set_keywords(ref.mailbox, ref.uid, add=[keyword])
    finally:
        await client.logout()


async def _junk_path(api: Any) -> str:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    return next(b["path"] for b in boxes if b["role"] == "junk")


async def test_restore_undoes_junk_with_the_keywords_as_they_were(
    upstream, logged_in, user, request
):
    made = await logged_in.post("/api/mailboxes", json={"name": "Lists"})
    assert made.status == 201, made
    upstream.deliver(user[0], plain_message(1, subject="Plain one"))
    upstream.deliver(user[0], plain_message(2, subject="Said not junk"))
    upstream.deliver(user[0], plain_message(3, subject="In a folder"), mailbox="Lists")
    inbox = {m["subject"]: m for m in await _listed(logged_in, "INBOX")}
    (listed,) = await _listed(logged_in, "Lists")
    keeps = upstream.name == "dovecot"
    if keeps:
        await _mark(request, user, inbox["Said not junk"]["id"], "$NotJunk")

    async def flags(message: str) -> set[str]:
        ref = decode_message_id(message)
        client = await request.getfixturevalue("dovecot").open_client(*user)
        try:
            (summary,) = await client.summaries(ref.mailbox, [ref.uid])
            return {f for f in summary.flags if f.startswith("$")}
        finally:
            await client.logout()

    if keeps:
        assert await flags(inbox["Said not junk"]["id"]) == {"$NotJunk"}

    # One at a time: junk, then restore (what the reader's Undo sends).
    junked = await logged_in.post(f"/api/messages/{inbox['Plain one']['id']}/junk")
    assert junked.status == 200, junked
    in_junk = junked.json()["id"]
    assert in_junk and decode_message_id(in_junk).mailbox == await _junk_path(logged_in)
    if keeps:
        assert await flags(in_junk) == {"$Junk"}
    back = await logged_in.post(f"/api/messages/{in_junk}/restore")
    assert back.status == 200, back
    home = back.json()["id"]
    assert decode_message_id(home).mailbox == "INBOX"
    assert await _listed(logged_in, await _junk_path(logged_in)) == []
    if keeps:
        assert await flags(home) == set()  # neither keyword, as before

    # A selection (the list's Undo): each back where it came from, keywords as they were.
    ids = [inbox["Said not junk"]["id"], listed["id"]]
    acted = await logged_in.post("/api/messages/actions", json={"action": "junk", "ids": ids})
    assert acted.status == 200, acted
    moved = [r["new_id"] for r in acted.json()["results"]]
    assert all(moved), acted.json()
    if keeps:
        assert [await flags(m) for m in moved] == [{"$Junk"}, {"$Junk"}]
    undone = await logged_in.post("/api/messages/actions", json={"action": "restore", "ids": moved})
    assert undone.status == 200, undone
    results = undone.json()["results"]
    assert [r["error"] for r in results] == [None, None]
    now = [decode_message_id(r["new_id"]).mailbox for r in results]
    assert now == ["INBOX", "Lists"]
    assert {m["subject"] for m in await _listed(logged_in, "INBOX")} == {
        "Plain one",
        "Said not junk",
    }
    assert [m["subject"] for m in await _listed(logged_in, "Lists")] == ["In a folder"]
    if keeps:
        assert [await flags(r["new_id"]) for r in results] == [{"$NotJunk"}, set()]

    # Restoring again from where it is now is refused; nothing moves.
    again = await logged_in.post(
        "/api/messages/actions", json={"action": "restore", "ids": [results[0]["new_id"]]}
    )
    assert again.json()["results"][0]["error"] == "bad_request"


async def test_a_message_marked_junk_before_keeps_its_mark_after_undo(
    upstream, logged_in, user, request
):
    """Junk from INBOX a message the server's filter had marked $Junk already: Undo leaves
    $Junk on it (as it was), not cleared."""
    if upstream.name != "dovecot":
        pytest.skip("pymap keeps no $Junk keyword; the move is tested above")
    flag = "$Junk"
    upstream.deliver(user[0], plain_message(1, subject="Filter said so"))
    (msg,) = await _listed(logged_in, "INBOX")
    await _mark(request, user, msg["id"], flag)
    junked = await logged_in.post(f"/api/messages/{msg['id']}/junk")
    back = await logged_in.post(f"/api/messages/{junked.json()['id']}/restore")
    assert back.status == 200, back
    ref = decode_message_id(back.json()["id"])
    client = await request.getfixturevalue("dovecot").open_client(*user)
    try:
        (summary,) = await client.summaries(ref.mailbox, [ref.uid])
    finally:
        await client.logout()
    assert ref.mailbox == "INBOX"
    assert flag in summary.flags and "$NotJunk" not in summary.flags
