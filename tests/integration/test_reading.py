"""Reading mail through the API against both real IMAP servers (issue 3)."""

from __future__ import annotations

import hashlib
import os
from email import message_from_bytes, policy
from urllib.parse import quote

from mailgate.mail.ids import decode_message_id, message_id
from tests.integration.mailfactory import html_message, plain_message, with_attachment


async def _inbox(api) -> dict:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    return next(b for b in boxes if b["role"] == "inbox")


async def _box(api, role: str) -> dict:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    return next(b for b in boxes if b["role"] == role)


async def _messages(api, box_id: str, **params) -> dict:
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    resp = await api.get(f"/api/mailboxes/{box_id}/messages?{query}")
    assert resp.status == 200, resp
    return resp.json()


async def test_mailboxes_have_roles_counts_and_decoded_names(upstream, logged_in, user):
    upstream.deliver(user[0], plain_message(1))
    upstream.deliver(user[0], plain_message(2), flags=("\\Seen",))
    upstream.deliver(user[0], plain_message(3), mailbox="Entwürfe Ü")
    boxes = (await logged_in.get("/api/mailboxes")).json()["mailboxes"]
    by_name = {b["name"]: b for b in boxes}
    inbox = next(b for b in boxes if b["role"] == "inbox")
    assert inbox["total"] == 2 and inbox["unread"] == 1
    assert "Entwürfe Ü" in by_name and by_name["Entwürfe Ü"]["total"] == 1
    roles = {b["role"] for b in boxes}
    assert {"inbox", "sent", "trash"} <= roles
    for b in boxes:
        assert set(b) == {"id", "name", "path", "role", "total", "unread", "subscribed"}


async def test_paging_sorting_and_search_on_a_big_mailbox(upstream, logged_in, user):
    n = 1050
    for i in range(n):
        body = "the zebra crossed" if i % 7 == 0 else None
        upstream.deliver(user[0], plain_message(i, body=body))
    inbox = await _inbox(logged_in)
    assert inbox["total"] == n
    first = await _messages(logged_in, inbox["id"], limit=50)
    assert first["total"] == n and len(first["messages"]) == 50
    assert first["messages"][0]["subject"] == f"Message number {n - 1}"
    dates = [m["date"] for m in first["messages"]]
    assert dates == sorted(dates, reverse=True)
    last = await _messages(logged_in, inbox["id"], limit=50, offset=1000)
    assert len(last["messages"]) == 50
    assert last["messages"][-1]["subject"] == "Message number 0"
    asc = await _messages(logged_in, inbox["id"], limit=3, sort="date_asc")
    assert [m["subject"] for m in asc["messages"]] == [f"Message number {i}" for i in range(3)]
    found = await _messages(logged_in, inbox["id"], limit=200, q="zebra")
    assert found["total"] == len(range(0, n, 7))
    assert all(int(m["subject"].split()[-1]) % 7 == 0 for m in found["messages"])
    by_subject = await _messages(logged_in, inbox["id"], q="number 1049")
    assert [m["subject"] for m in by_subject["messages"]] == ["Message number 1049"]
    beyond = await _messages(logged_in, inbox["id"], offset=5000)
    assert beyond["messages"] == [] and beyond["total"] == n


async def test_list_parameters_are_validated(logged_in):
    inbox = await _inbox(logged_in)
    for query in ("limit=0", "limit=201", "limit=x", "offset=-1", "sort=size", "q=" + "a" * 300):
        resp = await logged_in.get(f"/api/mailboxes/{inbox['id']}/messages?{query}")
        assert resp.status == 400, query
    resp = await logged_in.get("/api/mailboxes/bm8tc3VjaC1ib3g/messages")
    assert resp.status == 404


async def test_open_message_headers_text_and_attachments(upstream, logged_in, user):
    payload = os.urandom(3000)
    upstream.deliver(
        user[0],
        with_attachment(
            payload, "résumé final.pdf", "application/pdf", subject="=?utf-8?q?Gr=C3=BC=C3=9Fe?="
        ),
    )
    inbox = await _inbox(logged_in)
    summary = (await _messages(logged_in, inbox["id"]))["messages"][0]
    assert summary["has_attachments"] is True and summary["seen"] is False
    msg = (await logged_in.get(f"/api/messages/{summary['id']}?peek=1")).json()
    assert msg["subject"] == "Grüße"
    assert msg["text"].startswith("See the attachment.")
    assert msg["from"] == [{"name": "Carol", "email": "carol@example.org"}]
    att = msg["attachments"][0]
    assert att["filename"] == "résumé final.pdf" and att["content_type"] == "application/pdf"
    assert att["size"] == len(payload) and att["inline"] is False
    # peek kept it unread; a normal open marks it seen
    assert (await _messages(logged_in, inbox["id"]))["messages"][0]["seen"] is False
    await logged_in.get(f"/api/messages/{summary['id']}")
    assert (await _messages(logged_in, inbox["id"]))["messages"][0]["seen"] is True
    download = await logged_in.get(att["url"])
    assert download.status == 200 and download.body == payload
    assert download.headers["Content-Type"] == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert (
        disposition.startswith("attachment;")
        and "filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf" in disposition
    )
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    raw = await logged_in.get(f"/api/messages/{summary['id']}/raw")
    assert raw.headers["Content-Type"] == "message/rfc822"
    parsed = message_from_bytes(raw.body, policy=policy.default)
    assert parsed["Subject"] == "Grüße"


async def test_large_attachment_streams_intact(upstream, logged_in, user):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    upstream.deliver(user[0], with_attachment(payload, "big.bin"))
    inbox = await _inbox(logged_in)
    summary = (await _messages(logged_in, inbox["id"]))["messages"][0]
    msg = (await logged_in.get(f"/api/messages/{summary['id']}?peek=1")).json()
    att = next(a for a in msg["attachments"] if a["filename"] == "big.bin")
    resp = await logged_in.get(att["url"])
    assert resp.status == 200
    assert hashlib.sha256(resp.body).digest() == hashlib.sha256(payload).digest()
    assert resp.headers["Content-Type"] == "application/octet-stream"


async def test_html_body_is_sanitized_and_served_with_its_own_csp(upstream, logged_in, user):
    html = (
        "<p>Hello <b>there</b></p><script>alert(1)</script>"
        '<img src="https://tracker.example/p.gif?u=1">'
        '<a href="https://shop.example/x?utm_source=nl&id=3" onclick="x()">shop</a>'
        '<div style="background:url(https://tracker.example/bg.png)">bg</div>'
    )
    upstream.deliver(user[0], html_message(html))
    inbox = await _inbox(logged_in)
    summary = (await _messages(logged_in, inbox["id"]))["messages"][0]
    msg = (await logged_in.get(f"/api/messages/{summary['id']}")).json()
    assert msg["has_html"] is True and msg["remote_content_blocked"] >= 2
    assert msg["text_links"] == []  # the reader shows the frame, not the text
    resp = await logged_in.get(msg["html_url"])
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = resp.headers["Content-Security-Policy"]
    directives = dict(d.strip().partition(" ")[::2] for d in csp.split(";"))
    assert directives["sandbox"] == "allow-popups allow-popups-to-escape-sandbox"
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert "allow-scripts" not in csp and "allow-same-origin" not in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    body = resp.body.decode()
    assert "<script" not in body and "tracker.example" not in body and "onclick" not in body
    assert "utm_source" not in body and "https://shop.example/x?id=3" in body
    assert 'rel="noopener noreferrer"' in body


async def test_stale_message_id_gets_409_never_another_message(upstream, logged_in, user):
    upstream.deliver(user[0], plain_message(1))
    inbox = await _inbox(logged_in)
    summary = (await _messages(logged_in, inbox["id"]))["messages"][0]
    ref = decode_message_id(summary["id"])
    stale = message_id(ref.mailbox, ref.uidvalidity + 1, ref.uid)
    for method, path in (("GET", ""), ("GET", "/body.html"), ("GET", "/raw"), ("DELETE", "")):
        resp = await logged_in.request(method, f"/api/messages/{stale}{path}")
        assert resp.status == 409 and resp.error_code == "stale_message", (method, path)
    missing = message_id(ref.mailbox, ref.uidvalidity, ref.uid + 500)
    assert (await logged_in.get(f"/api/messages/{missing}")).status == 404
    assert (await logged_in.get("/api/messages/not-an-id")).status == 404


async def test_flags_move_and_delete_touch_only_the_addressed_message(upstream, logged_in, user):
    for i in range(3):
        upstream.deliver(user[0], plain_message(i))
    inbox = await _inbox(logged_in)
    msgs = (await _messages(logged_in, inbox["id"]))["messages"]
    target = msgs[1]
    patched = await logged_in.request(
        "PATCH", f"/api/messages/{target['id']}", json={"flagged": True, "seen": True}
    )
    assert patched.status == 200
    assert patched.json()["flagged"] is True and patched.json()["seen"] is True
    after = (await _messages(logged_in, inbox["id"]))["messages"]
    assert [m["flagged"] for m in after] == [False, True, False]
    bad = await logged_in.request("PATCH", f"/api/messages/{target['id']}", json={"flagged": "yes"})
    assert bad.status == 400
    archive = await _box(logged_in, "trash")
    moved = await logged_in.post(
        f"/api/messages/{target['id']}/move", json={"mailbox": archive["id"]}
    )
    assert moved.status == 200
    remaining = (await _messages(logged_in, inbox["id"]))["messages"]
    assert [m["subject"] for m in remaining] == [msgs[0]["subject"], msgs[2]["subject"]]
    # delete from the inbox goes to Trash; delete in Trash removes for good
    assert (await logged_in.request("DELETE", f"/api/messages/{remaining[0]['id']}")).status == 204
    trash = await _box(logged_in, "trash")
    in_trash = (await _messages(logged_in, trash["id"]))["messages"]
    assert sorted(m["subject"] for m in in_trash) == sorted([msgs[0]["subject"], target["subject"]])
    for m in in_trash:
        assert (await logged_in.request("DELETE", f"/api/messages/{m['id']}")).status == 204
    assert (await _messages(logged_in, trash["id"]))["messages"] == []
    final_inbox = (await _messages(logged_in, inbox["id"]))["messages"]
    assert [m["subject"] for m in final_inbox] == [msgs[2]["subject"]]


async def test_newest_first_is_by_date_after_a_restore_from_trash(upstream, logged_in, user):
    # On Dovecot (SORT) and pymap (no SORT) alike: a message back from Trash, or delivered
    # late with an old date, lands at its date, never at the top (RFC 5256 DATE order).
    for i in (30, 10, 20):  # arrival order is not date order
        upstream.deliver(user[0], plain_message(i))
    inbox = await _inbox(logged_in)
    listed = (await _messages(logged_in, inbox["id"]))["messages"]
    assert [m["subject"] for m in listed] == [f"Message number {i}" for i in (30, 20, 10)]
    trash = await _box(logged_in, "trash")
    oldest = listed[-1]
    moved = await logged_in.post(
        f"/api/messages/{oldest['id']}/move", json={"mailbox": trash["id"]}
    )
    assert moved.status == 200
    in_trash = (await _messages(logged_in, trash["id"]))["messages"]
    back = await logged_in.post(
        f"/api/messages/{in_trash[0]['id']}/move", json={"mailbox": inbox["id"]}
    )
    assert back.status == 200
    upstream.deliver(user[0], plain_message(15))  # arrives last, dated in the middle
    after = (await _messages(logged_in, inbox["id"]))["messages"]
    assert [m["subject"] for m in after] == [f"Message number {i}" for i in (30, 20, 15, 10)]
    oldest_first = (await _messages(logged_in, inbox["id"], sort="date_asc"))["messages"]
    assert [m["subject"] for m in oldest_first] == [f"Message number {i}" for i in (10, 15, 20, 30)]
