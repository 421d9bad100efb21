"""Archive on Dovecot set up otherwise than the shared test server (issue 17): without any
\\Archive mailbox (a top-level "Archive" is made, and listed with the archive role), and
with the \\Archive mailbox under another name, which wins over a plain "Archive" folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mailgate.mail.ids import decode_message_id, mailbox_id
from mailgate.testing.servers import RunningSandbox
from tests.conftest import Upstream, _combined_ca
from tests.integration.mailfactory import plain_message
from tests.servers.dovecot import SPECIAL_USE, Dovecot, running_dovecot

LAYOUTS = {
    "no-archive": {k: v for k, v in SPECIAL_USE.items() if v != "\\Archive"},
    "kept-is-archive": {
        **{k: v for k, v in SPECIAL_USE.items() if v != "\\Archive"},
        "Kept": "\\Archive",
    },
}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def layout_dovecot(request: pytest.FixtureRequest) -> Iterator[tuple[str, Dovecot]]:
    if not Dovecot.available():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    with running_dovecot(special_use=LAYOUTS[request.param]) as server:
        yield request.param, server


@pytest.fixture
def upstream(layout_dovecot: tuple[str, Dovecot], sandbox: RunningSandbox) -> Upstream:
    name, dc = layout_dovecot
    settings = sandbox.settings()
    settings["imap"] = {"host": dc.host, "port": dc.port, "security": "tls"}
    settings["upstream"] = {
        "ca_file": _combined_ca(dc.ca_file, sandbox.ca_file),
        "allow_any_port": True,
    }
    return Upstream(name, settings, dc.add_user, dc.deliver)


async def _boxes(api: Any) -> dict[str, dict[str, Any]]:
    resp = await api.get("/api/mailboxes")
    assert resp.status == 200, resp
    return {b["path"]: b for b in resp.json()["mailboxes"]}


async def _subjects(api: Any, path: str) -> list[str]:
    resp = await api.get(f"/api/mailboxes/{mailbox_id(path)}/messages")
    assert resp.status == 200, resp
    return sorted(m["subject"] for m in resp.json()["messages"])


async def test_archive_finds_or_makes_the_special_use_mailbox(upstream, logged_in, user):
    before = await _boxes(logged_in)
    assert "Archive" not in before
    if upstream.name == "kept-is-archive":
        assert before["Kept"]["role"] == "archive"
        # A plain folder named "Archive" does not take the place of the marked one.
        made = await logged_in.post("/api/mailboxes", json={"name": "Archive"})
        assert made.status == 201, made
        assert made.json()["role"] is None
    else:
        assert all(b["role"] != "archive" for b in before.values())
    expected = "Kept" if upstream.name == "kept-is-archive" else "Archive"

    upstream.deliver(user[0], plain_message(1, subject="First"))
    upstream.deliver(user[0], plain_message(2, subject="Second"))
    inbox = (await logged_in.get(f"/api/mailboxes/{mailbox_id('INBOX')}/messages")).json()
    ids = {m["subject"]: m["id"] for m in inbox["messages"]}
    one = await logged_in.post(f"/api/messages/{ids['First']}/archive")
    assert one.status == 200, one
    assert decode_message_id(one.json()["id"]).mailbox == expected
    after = await _boxes(logged_in)
    # Made where there was none (Dovecot offers no CREATE-SPECIAL-USE, so a plain CREATE):
    # the top-level "Archive" takes the role no mailbox is marked with, and shows as such.
    assert after[expected]["role"] == "archive"
    many = await logged_in.post(
        "/api/messages/actions", json={"action": "archive", "ids": [ids["Second"]]}
    )
    assert many.status == 200, many
    assert await _subjects(logged_in, expected) == ["First", "Second"]
    if upstream.name == "kept-is-archive":
        assert await _subjects(logged_in, "Archive") == []
    refused = await logged_in.post(f"/api/messages/{one.json()['id']}/archive")
    assert refused.status == 400
