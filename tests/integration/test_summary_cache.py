"""The per-connection cache of parsed list summaries never serves stale flags or misses
new mail: every change, ours or another client's, is seen on the next list."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mailgate.testing.client import ApiClient
from tests.integration.mailfactory import plain_message


async def _inbox_page(api: ApiClient) -> dict[str, dict[str, Any]]:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    page = (await api.get(f"/api/mailboxes/{inbox['id']}/messages?limit=50")).json()
    return {m["subject"]: m for m in page["messages"]}


async def test_list_after_every_kind_of_change(upstream, sandbox, mailgate, user):
    for n in range(3):
        upstream.deliver(user[0], plain_message(n))
    async with (
        ApiClient(mailgate.url, mailgate.client_ssl()) as one,
        ApiClient(mailgate.url, mailgate.client_ssl()) as two,
    ):
        assert (await one.login(*user)).status == 201
        assert (await two.login(*user)).status == 201
        first = await _inbox_page(one)
        assert len(first) == 3 and not any(m["seen"] for m in first.values())
        assert await _inbox_page(one) == first  # served again, unchanged

        # Our own flag change.
        target = first["Message number 0"]
        resp = await one.request("PATCH", f"/api/messages/{target['id']}", json={"flagged": True})
        assert resp.status == 200
        assert (await _inbox_page(one))["Message number 0"]["flagged"] is True

        # Opening marks seen.
        assert (await one.get(f"/api/messages/{first['Message number 1']['id']}")).status == 200
        assert (await _inbox_page(one))["Message number 1"]["seen"] is True

        # Another client (another session, another IMAP connection) changes a flag.
        other = first["Message number 2"]
        resp = await two.request("PATCH", f"/api/messages/{other['id']}", json={"seen": True})
        assert resp.status == 200
        # Dovecot reports it on the next NOOP; pymap after a short delay.
        deadline = time.monotonic() + 5
        while not (await _inbox_page(one))["Message number 2"]["seen"]:
            assert time.monotonic() < deadline, "another client's flag change never showed"
            await asyncio.sleep(0.2)

        # New mail (pymap reports a delivery to a selected mailbox after a short delay).
        upstream.deliver(user[0], plain_message(3))
        deadline = time.monotonic() + 5
        while "Message number 3" not in await _inbox_page(one):
            assert time.monotonic() < deadline, "new mail never listed"
            await asyncio.sleep(0.2)

        # A reply marks its parent answered (a flag set outside store_flags).
        if upstream.name != "pymap":
            sandbox.add_user(*user)
        resp = await one.post(
            "/api/send",
            json={
                "to": ["someone@example.net"],
                "subject": "Re: hello",
                "text": "hi",
                "in_reply_to": first["Message number 0"]["id"],
                "save_sent": False,
            },
        )
        assert resp.status == 200, resp
        assert (await _inbox_page(one))["Message number 0"]["answered"] is True


async def test_pages_stay_whole_when_the_cache_overflows(upstream, mailgate, user):
    """Half-cached pages after the cache filled up: every message is still listed."""
    for n in range(430):
        upstream.deliver(user[0], plain_message(n))
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
        inbox = next(b for b in boxes if b["role"] == "inbox")["id"]
        seen: set[str] = set()
        for offset in (*range(0, 400, 50), 375, 200, 0):
            resp = await api.get(f"/api/mailboxes/{inbox}/messages?limit=50&offset={offset}")
            page = resp.json()
            expected = min(50, 430 - offset)
            assert page["total"] == 430 and len(page["messages"]) == expected, offset
            seen.update(m["id"] for m in page["messages"])
        assert len(seen) == 425
