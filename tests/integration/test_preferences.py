"""Preferences (issue 5): the API, validation, sealing at rest, the server secret, and
retention, against SQLite (the default) and Redis."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sqlite3
import stat
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis

from mailgate.prefs.secret import AccountKeys, SecretError, load_secret
from mailgate.testing.client import ApiClient
from tests.servers.redis import RedisServer

# Preferences do not depend on the IMAP server: the pymap sandbox is enough.
PYMAP = pytest.mark.parametrize("upstream", ["pymap"], indirect=True)

_DAY = 86400.0


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if not RedisServer.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {"backend": "memory"}
    return {"backend": "redis", "redis_url": request.getfixturevalue("redis_server").url}


def _when(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@PYMAP
async def test_put_get_delete_roundtrip(make_mailgate, backend, user, tmp_path):
    mg = make_mailgate(store=backend, data={"dir": str(tmp_path)})
    prefs = {
        "page_size": 25,
        "theme": "dark",
        "signature": "-- \nAlice\n\tand co",
        "display_name": "Alice Ä.",
        "time_zone": "America/Argentina/Buenos_Aires",
        "compose_format": "html",
        "list_view": "conversations",
        "remote_images_senders": ["News@Example.org", "example.com", "example.com"],
    }
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.get("/api/preferences")).status == 401
        assert (await api.login(*user)).status == 201
        empty = await api.get("/api/preferences")
        assert empty.status == 200
        # Nothing stored yet, and the operator's period told up front.
        assert empty.json() == {"preferences": {}, "retained_until": None, "retention_days": 60}
        put = await api.request("PUT", "/api/preferences", json=prefs)
        assert put.status == 200, put
        expected = dict(prefs, remote_images_senders=["news@example.org", "example.com"])
        assert put.json()["preferences"] == expected
        got = (await api.get("/api/preferences")).json()
        assert got["preferences"] == expected
        assert abs(_when(got["retained_until"]) - (time.time() + 60 * _DAY)) < 60
        # PUT replaces the whole object.
        assert (await api.request("PUT", "/api/preferences", json={"theme": "light"})).status == 200
        assert (await api.get("/api/preferences")).json()["preferences"] == {"theme": "light"}
        # Unsafe methods need the CSRF token.
        no_csrf = await api.request("PUT", "/api/preferences", json={}, csrf=False)
        assert no_csrf.status == 403
        assert (await api.request("DELETE", "/api/preferences", csrf=False)).status == 403
        # The Redis server is shared by tests: look for this account's key only.
        account_id = mg.services.preferences.keys.account_id(user[0]).encode()
        assert account_id in mg.services.preferences.store.dump()
        assert (await api.request("DELETE", "/api/preferences")).status == 204
        gone = (await api.get("/api/preferences")).json()
        assert gone == {"preferences": {}, "retained_until": None, "retention_days": 60}
        assert account_id not in mg.services.preferences.store.dump()


@PYMAP
async def test_preferences_survive_logout_and_another_process(make_mailgate, user, tmp_path):
    mg = make_mailgate(data={"dir": str(tmp_path)})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        assert (await api.request("PUT", "/api/preferences", json={"page_size": 80})).status == 200
        assert (await api.logout()).status == 204
    # A second server on the same data directory (as after a restart) reads them.
    again = make_mailgate(data={"dir": str(tmp_path)})
    async with ApiClient(again.url, again.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        assert (await api.get("/api/preferences")).json()["preferences"] == {"page_size": 80}


@PYMAP
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"page_size": 5}, "page_size"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"page_size": "50"}, "page_size"),
        ({"theme": "blue"}, "theme"),
        ({"signature": "x" * 2001}, "signature"),
        ({"signature": "a\x00b"}, "signature"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"display_name": "Eve\r\nBcc: x@example.org"}, "display_name"),
        ({"time_zone": "../etc/passwd"}, "time_zone"),
        ({"time_zone": "A" * 65}, "time_zone"),
        ({"compose_format": "rtf"}, "compose_format"),
        ({"list_view": "threads"}, "list_view"),
        ({"remote_images_senders": "example.org"}, "remote_images_senders"),
        ({"remote_images_senders": ["not an address"]}, "remote_images_senders"),
        ({"remote_images_senders": ["a@b@example.org"]}, "remote_images_senders"),
        (
            {"remote_images_senders": [f"s{i}.example.org" for i in range(501)]},
            "remote_images_senders",
        ),
        ({"remote_images_senders": [7]}, "remote_images_senders"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_invalid_preferences_are_400_naming_the_field(logged_in, body, field):
    resp = await logged_in.request("PUT", "/api/preferences", json=body)
    assert resp.status == 400, resp
    assert resp.error_code == "bad_request"
    assert f"'{field}'" in resp.json()["error"]["message"]
    assert (await logged_in.get("/api/preferences")).json()["preferences"] == {}


@PYMAP
async def test_non_object_and_oversized_bodies(make_mailgate, user, tmp_path):
    mg = make_mailgate(data={"dir": str(tmp_path)}, preferences={"max_bytes": 600})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        arr = await api.request("PUT", "/api/preferences", json=["theme"])
        assert arr.status == 400
        big = await api.request("PUT", "/api/preferences", json={"signature": "x" * 700})
        assert big.status == 413 and big.error_code == "payload_too_large"
        many = {"remote_images_senders": [f"s{i}.example.org" for i in range(40)]}
        assert (await api.request("PUT", "/api/preferences", json=many)).status == 413
        ok = await api.request("PUT", "/api/preferences", json={"signature": "x" * 500})
        assert ok.status == 200


def _forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [
        raw,
        base64.b64encode(raw),
        value.encode("utf-16-le"),
        value.encode("utf-16-be"),
        raw.hex().encode(),
    ]


@PYMAP
async def test_database_copy_without_the_secret_reveals_nothing(
    make_mailgate, backend, user, tmp_path
):
    mg = make_mailgate(store=backend, data={"dir": str(tmp_path)})
    signature = "SIG-CANARY-" + secrets.token_hex(6)
    name = "NAME-CANARY-" + secrets.token_hex(4)
    sender = f"sender-canary-{secrets.token_hex(3)}.example"
    # An identity's address, name and Reply-To are as private as the rest.
    alias = f"alias-canary-{secrets.token_hex(3)}@example.test"
    alias_name = "ALIAS-NAME-" + secrets.token_hex(4)
    reply_to = f"reply-canary-{secrets.token_hex(3)}@example.test"
    identity = {"id": "a", "email": alias, "name": alias_name, "reply_to": reply_to}
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        put = await api.request(
            "PUT",
            "/api/preferences",
            json={
                "signature": signature,
                "display_name": name,
                "remote_images_senders": [sender],
                "identities": [identity],
            },
        )
        assert put.status == 200
        assert (await api.logout()).status == 204
    store = mg.services.preferences.store
    dump = store.dump()
    assert len(dump) > 0
    email = user[0]
    for canary in (
        email,
        email.upper(),
        email.split("@")[0],
        signature,
        name,
        sender,
        alias,
        alias_name,
        reply_to,
    ):
        for form in _forms(canary):
            assert form not in dump, canary
    secret_file = tmp_path / "server.secret"
    secret = secret_file.read_bytes()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret not in dump and secret.hex().encode() not in dump
    # The row is found only with the secret: its id is a keyed hash of the account.
    keys = AccountKeys(secret)
    assert keys.account_id(email).encode() in dump
    assert AccountKeys(os.urandom(32)).account_id(email).encode() not in dump
    found = mg.call(store.get(keys.account_id(email)))
    assert found is not None
    assert keys.open(email, found[0]) is not None
    assert AccountKeys(os.urandom(32)).open(email, found[0]) is None
    assert keys.open("other@example.test", found[0]) is None
    if backend["backend"] == "memory":
        assert (tmp_path / "preferences.sqlite3").stat().st_mode & 0o077 == 0


def test_secret_file_is_created_once_with_mode_0600(tmp_path: Path):
    path = tmp_path / "sub" / "server.secret"
    first = load_secret(path)
    assert len(first) == 32 and load_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    with pytest.raises(SecretError):
        load_secret(path)


def _stored_rows(mg, backend: dict[str, str], tmp_path: Path) -> int:
    """How many preference records the backing store physically holds."""
    if backend["backend"] == "memory":
        with sqlite3.connect(tmp_path / "preferences.sqlite3") as db:
            return db.execute("SELECT COUNT(*) FROM preferences").fetchone()[0]
    with redis.Redis.from_url(backend["redis_url"]) as raw:
        return len(list(raw.scan_iter(match="mailgate:p:*")))


@PYMAP
async def test_retention_erases_without_login_and_keeps_while_logging_in(
    make_mailgate, backend, user, tmp_path
):
    retention_s = 2.0
    mg = make_mailgate(
        store=backend,
        data={"dir": str(tmp_path)},
        preferences={"retention_days": retention_s / _DAY},
    )
    if backend["backend"] != "memory":
        with redis.Redis.from_url(backend["redis_url"]) as raw:
            for key in raw.scan_iter(match="mailgate:p:*"):
                raw.delete(key)  # other tests' leftovers would skew the count
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        put = await api.request("PUT", "/api/preferences", json={"theme": "dark"})
        assert put.status == 200
        first_until = _when(put.json()["retained_until"])
        # Logging in again and again keeps them well past the first retention period.
        started = time.monotonic()
        while time.monotonic() - started < 2 * retention_s:
            await asyncio.sleep(0.5)
            assert (await api.login(*user)).status == 201
        got = (await api.get("/api/preferences")).json()
        assert got["preferences"] == {"theme": "dark"}
        assert _when(got["retained_until"]) > first_until + retention_s - 1
        assert _stored_rows(mg, backend, tmp_path) == 1
        # Without a login they are erased by the scheduled purge (or Redis TTL).
        await asyncio.sleep(retention_s + 1.0)
        assert _stored_rows(mg, backend, tmp_path) == 0
        assert (await api.login(*user)).status == 201
        after = (await api.get("/api/preferences")).json()
        assert (after["preferences"], after["retained_until"]) == ({}, None)
