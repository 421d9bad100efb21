"""Search with filters, in one folder or across the account (issue 17), on Dovecot (SORT)
and pymap (no SORT): newest first by sent date across folders, each hit naming its
folder, Junk and Trash left out of "all folders", and every filter narrowing."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from mailgate.testing.client import ApiClient
from mailgate.testing.logcheck import CANARIES
from tests.conftest import Upstream
from tests.integration.mailfactory import BASE, plain_message, with_attachment


def _ids(resp: Any) -> list[str]:
    assert resp.status == 200, resp
    return [m["subject"] for m in resp.json()["messages"]]


async def test_search_across_folders_with_filters(upstream: Upstream, client: ApiClient) -> None:
    email, password = upstream.new_user()
    word = f"budget{secrets.token_hex(3)}"
    CANARIES.add(word, kind="search term")
    carol = "Carol <carol@example.org>"
    # Delivered out of date order, so arrival order is not the answer.
    upstream.deliver(email, plain_message(5000, subject=f"{word} gamma", to=email), "Projects")
    upstream.deliver(
        email,
        plain_message(10, subject=f"{word} alpha", sender=carol, to=email),
        "INBOX",
        ("\\Seen",),
    )
    attached = with_attachment(b"%PDF-1.4 x", "plan.pdf", "application/pdf", f"{word} beta")
    upstream.deliver(
        email,
        attached.replace(b"Date: ", b"X-Old-Date: ", 1).replace(
            b"Subject:", b"Date: Sat, 01 Mar 2025 10:00:00 +0000\nSubject:", 1
        ),
    )
    upstream.deliver(
        email, plain_message(3000, subject=f"{word} delta", to=email), "INBOX", ("\\Flagged",)
    )
    upstream.deliver(email, plain_message(2000, subject=f"{word} reply", to=carol), "Sent")
    upstream.deliver(email, plain_message(6000, subject=f"{word} trashed", to=email), "Trash")
    upstream.deliver(email, plain_message(7000, subject="nothing to see", to=email))

    assert (await client.login(email, password)).status == 201
    boxes = {
        b["role"] or b["path"]: b["id"]
        for b in (await client.get("/api/mailboxes")).json()["mailboxes"]
    }

    everywhere = await client.get(f"/api/search?q={word}")
    assert _ids(everywhere) == [f"{word} {s}" for s in ("gamma", "delta", "reply", "beta", "alpha")]
    assert everywhere.json()["total"] == 5
    folders = {m["subject"].split()[1]: m["mailbox"] for m in everywhere.json()["messages"]}
    assert folders == {
        "gamma": boxes["Projects"],
        "reply": boxes["sent"],
        "delta": boxes["inbox"],
        "beta": boxes["inbox"],
        "alpha": boxes["inbox"],
    }

    # Paging keeps the order.
    second = await client.get(f"/api/search?q={word}&limit=2&offset=2")
    assert _ids(second) == [f"{word} reply", f"{word} beta"]

    # Each filter narrows.
    assert _ids(await client.get(f"/api/search?q={word}&from=carol")) == [
        f"{word} beta",
        f"{word} alpha",
    ]
    assert _ids(await client.get(f"/api/search?subject={word}&to=carol@example.org")) == [
        f"{word} reply"
    ]
    assert _ids(await client.get(f"/api/search?q={word}&attachment=true")) == [f"{word} beta"]
    assert _ids(await client.get(f"/api/search?q={word}&flagged=true")) == [f"{word} delta"]
    unread = _ids(await client.get(f"/api/search?q={word}&unread=true"))
    assert f"{word} alpha" not in unread and f"{word} gamma" in unread
    day = (BASE + timedelta(minutes=5000)).date().isoformat()
    assert _ids(await client.get(f"/api/search?q={word}&since={day}&until={day}")) == [
        f"{word} gamma"
    ]
    assert _ids(await client.get("/api/search?body=body+of+message+2000")) == [f"{word} reply"]

    # One folder only; Trash on its own.
    assert _ids(await client.get(f"/api/search?q={word}&mailbox={boxes['inbox']}")) == [
        f"{word} delta",
        f"{word} beta",
        f"{word} alpha",
    ]
    assert _ids(await client.get(f"/api/search?q={word}&mailbox={boxes['trash']}")) == [
        f"{word} trashed"
    ]

    # A hit from another folder opens like any message.
    gamma = everywhere.json()["messages"][0]
    opened = await client.get(f"/api/messages/{gamma['id']}?peek=1")
    assert opened.status == 200 and opened.json()["subject"] == f"{word} gamma"

    # Clear refusals.
    for query, why in (
        ("", "no filter"),
        ("since=2025-03-05&until=2025-03-01", "since after until"),
        ("since=yesterday", "not a date"),
        ("until=0012-12-11", "before mail"),
        ("q=a%06b", "a control character"),
        ("unread=yes", "not true/false"),
        ("q=" + "x" * 300, "too long"),
        ("q=a&limit=500", "page too big"),
    ):
        refused = await client.get(f"/api/search?{query}")
        assert refused.status == 400 and refused.error_code == "bad_request", (why, refused)
