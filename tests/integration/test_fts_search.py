"""Search on a Dovecot with a full-text index (issue 19: dovecot-fts-xapian) and on the
same Dovecot without one: mailgate sends the same SEARCH/SORT keys to both (no capability
tells them apart: fts-xapian 1.5.5 on Dovecot 2.3 advertises nothing), Dovecot answers
BODY from its index, and the answers through GET /api/search and the list's search are
exact on both: a word in 20 bodies among 1,200 messages in two folders, a piece of it,
a sender, and mail that arrives after the index was built. What the index answers
differently (docs/api.md, "Servers with a full-text index") is pinned here too."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from mailgate.mail.ids import decode_message_id
from mailgate.testing.client import ApiClient
from mailgate.testing.logcheck import CANARIES
from mailgate.testing.servers import RunningMailgate, RunningSandbox, upstream_config
from tests.conftest import _combined_ca
from tests.integration.mailfactory import plain_message
from tests.servers.dovecot import Dovecot

MESSAGES = {"INBOX": 1000, "Archive": 200}
HITS = {"INBOX": 15, "Archive": 5}
_FILLER = ("meeting", "report", "budget", "quarter", "review", "draft", "travel", "agenda")


@pytest.fixture(scope="module", params=["fts", "plain"])
def server(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    if not Dovecot.available():
        pytest.skip("needs dovecot and root")
    fts = request.param == "fts"
    if fts and not Dovecot.fts_available():
        pytest.skip("apt-get install dovecot-fts-xapian (.ci/run installs it)")
    dc = Dovecot(fts=fts)
    try:
        dc.start()
        yield dc
    finally:
        dc.cleanup()


@pytest.fixture
def running(server: Dovecot, sandbox: RunningSandbox) -> Iterator[RunningMailgate]:
    settings = sandbox.settings()
    settings["imap"] = {"host": server.host, "port": server.port, "security": "tls"}
    settings["upstream"] = {
        "ca_file": _combined_ca(server.ca_file, sandbox.ca_file),
        "allow_any_port": True,
    }
    mailgate = RunningMailgate(upstream_config(settings)).start()
    yield mailgate
    mailgate.stop()


def _fill(server: Dovecot, email: str, word: str) -> dict[str, set[str]]:
    """MESSAGES per folder, HITS of them with ``word`` in the body only; near misses in
    others. Returns the hits per folder, as "n<number>" for the subject "Note <number>"."""
    rng = random.Random(19)
    hits: dict[str, set[str]] = {}
    n = 0
    for folder, count in MESSAGES.items():
        chosen = set(rng.sample(range(count), HITS[folder]))
        hits[folder] = set()
        for i in range(count):
            n += 1
            words = [rng.choice(_FILLER) for _ in range(rng.randint(10, 40))]
            if i in chosen:
                words.insert(rng.randrange(len(words)), word)
                hits[folder].add(f"n{n}")
            elif i % 50 == 1:
                words.append(word[:-1] + "q")  # one letter off: never a hit
            raw = plain_message(n, subject=f"Note {n}", body=" ".join(words) + "\n")
            server.deliver(email, raw, folder)
    return hits


def _subjects(resp: Any) -> set[str]:
    assert resp.status == 200, resp
    return {m["subject"].replace("Note ", "n") for m in resp.json()["messages"]}


async def test_search_through_the_index_is_exact(server: Dovecot, running: RunningMailgate) -> None:
    email, password = f"fts-{secrets.token_hex(4)}@example.test", secrets.token_urlsafe(12)
    CANARIES.add(email, kind="account")
    CANARIES.add(password, kind="password")
    server.add_user(email, password)
    word = f"zanzibar{secrets.token_hex(3)}"  # letters and digits: one index term
    CANARIES.add(word, kind="search term")
    hits = _fill(server, email, word)
    everywhere = hits["INBOX"] | hits["Archive"]
    async with ApiClient(running.url, running.client_ssl()) as client:
        assert (await client.login(email, password)).status == 201
        boxes = {
            b["path"]: b["id"] for b in (await client.get("/api/mailboxes")).json()["mailboxes"]
        }
        inbox = boxes["INBOX"]

        # The list's search in INBOX (UID SORT … OR … BODY): exactly the 15 hits.
        listed = await client.get(f"/api/mailboxes/{inbox}/messages?q={word}&limit=50")
        assert _subjects(listed) == hits["INBOX"] and listed.json()["total"] == 15
        # Across the account, and with the body filter: exactly the 20.
        found = await client.get(f"/api/search?q={word}&limit=50")
        assert _subjects(found) == everywhere and found.json()["total"] == 20
        assert {decode_message_id(m["id"]).mailbox for m in found.json()["messages"]} == {
            "INBOX",
            "Archive",
        }
        by_body = await client.get(f"/api/search?body={word}&limit=50")
        assert _subjects(by_body) == everywhere
        # A piece of the word (3 to 20 characters) is still a substring search.
        piece = word[5:]  # its end: the near misses differ there
        assert _subjects(await client.get(f"/api/search?q={piece}&limit=50")) == everywhere
        # A header filter, answered from the index on the FTS server as well.
        assert (await client.get("/api/search?from=bob@example.net&limit=1")).json()[
            "total"
        ] == 1200

        if server.fts:
            # The searches went through the index: fts-xapian keeps one Xapian database
            # per searched mailbox in the user's home, built by the first search.
            assert len(list((server.maildir(email) / "xapian-indexes").glob("db_*"))) >= 2

        # Mail that arrives after the index was built is found by the next search.
        late = plain_message(9999, subject="Note 9999", body=f"late {word} mail\n")
        server.deliver(email, late)
        again = await client.get(f"/api/search?q={word}&limit=50")
        assert _subjects(again) == everywhere | {"n9999"}
        listed = await client.get(f"/api/mailboxes/{inbox}/messages?q={word}&limit=50")
        assert _subjects(listed) == hits["INBOX"] | {"n9999"}

        # What the index answers differently (docs/api.md): a term of fewer than three
        # characters finds nothing there, though "qz" is in one body.
        odd = plain_message(10000, subject="Note 10000", body="a qz b\n")
        server.deliver(email, odd)
        short = await client.get("/api/search?body=qz")
        assert short.status == 200
        assert short.json()["total"] == (0 if server.fts else 1)
