"""The Redis backend (issue 5): sessions, uploads and preferences on a real redis-server,
two instances sharing it, an outage mid-session, and nothing readable at rest."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Iterator
from email.message import EmailMessage

import aiohttp
import pytest
import redis

from mailgate.errors import PayloadTooLarge, StoreUnavailable
from mailgate.store.interface import SessionRecord, StoreError
from mailgate.store.memory import MemoryStore
from mailgate.store.redis import RedisStore
from mailgate.testing.client import ApiClient
from mailgate.testing.clock import ManualClock
from mailgate.vault.redis import RedisVault
from tests.servers.ports import free_port
from tests.servers.redis import RedisServer

pytestmark = pytest.mark.redis


def _redis_or_skip() -> RedisServer:
    if not RedisServer.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return RedisServer()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = _redis_or_skip()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(autouse=True)
def _empty_redis(request: pytest.FixtureRequest) -> None:
    """Each test starts from an empty Redis: what another test left behind (an upload of
    a session whose wipe an outage interrupted) must not show up in this one's dumps."""
    if "redis_server" in request.fixturenames:
        raw = _raw(request.getfixturevalue("redis_server"))
        try:
            raw.flushall()
        finally:
            raw.close()


def _record(now: float, idle: int = 60, absolute: float = 3600) -> SessionRecord:
    return SessionRecord(now, now, idle, now + absolute, b"\x01" * 40)


@pytest.fixture(params=["memory", "redis"])
async def session_store(request: pytest.FixtureRequest):
    if request.param == "memory":
        store = MemoryStore()
    else:
        store = RedisStore(request.getfixturevalue("redis_server").url)
    yield store
    await store.clear()
    await store.close()


def _file(content: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", content, filename="file.bin", content_type="application/octet-stream")
    return form


def _raw(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url)


# --- the SessionStore contract, on both backends -------------------------------------------


async def test_store_create_get_touch_delete(session_store):
    now = time.time()
    lookup = secrets.token_hex(32)
    await session_store.create(lookup, _record(now))
    got = await session_store.get(lookup)
    assert got is not None and got.sealed == b"\x01" * 40
    assert lookup in await session_store.lookups()
    await session_store.touch(lookup, now + 5)
    assert (await session_store.get(lookup)).last_seen == now + 5
    assert await session_store.delete(lookup) is True
    assert await session_store.get(lookup) is None
    assert await session_store.delete(lookup) is False
    await session_store.touch(lookup, now + 6)  # touching a gone session does not revive it
    assert await session_store.get(lookup) is None


async def test_store_reseal_replaces_the_sealed_account_of_a_live_record_only(session_store):
    now = time.time()
    lookup = secrets.token_hex(32)
    await session_store.create(lookup, _record(now))
    assert await session_store.reseal(lookup, b"\x02" * 40) is True
    got = await session_store.get(lookup)
    assert got is not None and got.sealed == b"\x02" * 40 and got.last_seen == now
    await session_store.delete(lookup)
    assert await session_store.reseal(lookup, b"\x03" * 40) is False  # no revival
    assert await session_store.get(lookup) is None


async def test_redis_idle_expiry_in_real_time(redis_server):
    # Redis's own TTL drops the key (the memory store's deadlines are checked on a
    # ManualClock in tests/unit/test_session_time.py).
    store = RedisStore(redis_server.url)
    raw = _raw(redis_server)
    try:
        lookup = secrets.token_hex(32)
        await store.create(lookup, _record(time.time(), idle=1))
        assert await store.get(lookup) is not None
        await asyncio.sleep(1.3)
        assert raw.exists(f"mailgate:s:{lookup}") == 0
        assert await store.get(lookup) is None
    finally:
        raw.close()
        await store.close()


async def test_redis_store_reads_deadlines_from_its_clock(redis_server):
    clock = ManualClock()
    store = RedisStore(redis_server.url, clock)
    raw = _raw(redis_server)
    try:
        lookup = secrets.token_hex(32)
        await store.create(lookup, _record(clock.now(), idle=60, absolute=90))
        assert 59_000 < raw.pttl(f"mailgate:s:{lookup}") <= 60_000  # TTL from the clock
        clock.advance(50)
        await store.touch(lookup, clock.now())
        assert 39_000 < raw.pttl(f"mailgate:s:{lookup}") <= 40_000  # capped at absolute
        clock.advance(40)
        assert await store.get(lookup) is None  # past the deadline, whatever Redis holds
    finally:
        await store.clear()
        raw.close()
        await store.close()


async def test_redis_ttl_follows_activity_but_never_passes_the_absolute_deadline(redis_server):
    store = RedisStore(redis_server.url)
    raw = _raw(redis_server)
    try:
        now = time.time()
        lookup = secrets.token_hex(32)
        await store.create(lookup, _record(now, idle=60, absolute=90))
        key = f"mailgate:s:{lookup}"
        assert 59_000 < raw.pttl(key) <= 60_000
        await store.touch(lookup, now + 50)  # idle would end at +110, absolute is +90
        assert raw.pttl(key) <= 90_000 - 49_000
        assert raw.pttl(key) > 30_000
        # An expired key shows up in expired() of the instance that served it.
        raw.delete(key)
        assert await store.expired(time.time()) == [(lookup, "idle")]
        assert await store.expired(time.time()) == []
    finally:
        raw.close()
        await store.close()


async def test_redis_store_unreachable_raises_store_error():
    store = RedisStore(f"redis://:pw@127.0.0.1:{free_port()}/0")
    try:
        started = time.monotonic()
        for call in (store.get("ab"), store.ping(), store.touch("ab", 1.0), store.delete("ab")):
            with pytest.raises(StoreError):
                await call
        assert time.monotonic() - started < 10
    finally:
        await store.close()


# --- the vault on Redis ------------------------------------------------------------------------


async def _chunks(data: bytes, size: int = 10_000):
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_redis_vault_roundtrip_limits_and_wipe(redis_server):
    vault = RedisVault(redis_server.url)
    raw = _raw(redis_server)
    owner, other = secrets.token_hex(32), secrets.token_hex(32)
    key = secrets.token_bytes(32)
    data = secrets.token_bytes(200_000)  # several 64 KiB frames
    try:
        info = await vault.put(
            owner, key, "a.bin", "application/pdf", _chunks(data), max_bytes=10**6
        )
        assert info.size == len(data)
        assert await vault.info(owner, key, info.id) == info
        assert await vault.list(owner, key) == [info]
        assert b"".join([c async for c in vault.read(owner, key, info.id)]) == data
        count, stored = await vault.usage(owner)
        assert count == 1 and stored > len(data)
        assert data not in vault.dump()
        # Another session (other owner or other key) sees nothing.
        assert await vault.list(other, key) == []
        assert await vault.info(owner, secrets.token_bytes(32), info.id) is None
        # Keys never outlive the session by much (no session record: the default TTL).
        for k in raw.scan_iter(match=f"mailgate:v:{owner}:*"):
            assert 0 < raw.pttl(k) <= (43200 + 61) * 1000
        # Over the limit: 413 and no partial pieces left behind.
        before = set(raw.scan_iter(match=f"mailgate:v:{owner}:*"))
        assert len(before) >= 5  # pieces, meta and index
        with pytest.raises(PayloadTooLarge):
            await vault.put(owner, key, "b", "text/plain", _chunks(data), max_bytes=100_000)
        assert await vault.usage(owner) == (1, stored)
        assert set(raw.scan_iter(match=f"mailgate:v:{owner}:*")) == before
        assert await vault.delete(owner, info.id) is True
        assert await vault.delete(owner, info.id) is False
        assert list(raw.scan_iter(match=f"mailgate:v:{owner}:*")) == []
        await vault.put(owner, key, "c", "text/plain", _chunks(b"x"), max_bytes=10)
        await vault.wipe(owner)
        assert list(raw.scan_iter(match=f"mailgate:v:{owner}:*")) == []
    finally:
        await vault.wipe_all()
        raw.close()
        await vault.close()


async def test_redis_vault_expires_with_the_session_deadline(redis_server):
    # The caller says when the session ends; the vault never reads the session's key.
    store = RedisStore(redis_server.url)
    vault = RedisVault(redis_server.url, default_ttl_s=43200)
    raw = _raw(redis_server)
    owner = secrets.token_hex(32)
    try:
        await store.create(owner, _record(time.time(), idle=60, absolute=3600))
        info = await vault.put(
            owner,
            b"k" * 32,
            "f",
            "text/plain",
            _chunks(b"hi"),
            max_bytes=10,
            expires_at=time.time() + 120,
        )
        ttl = raw.pttl(f"mailgate:v:{owner}:{info.id}:meta")
        assert 100_000 < ttl <= 181_000  # the given deadline plus a minute of slack
        # Without a deadline: the backend's default, whatever the session record says.
        other = await vault.put(owner, b"k" * 32, "g", "text/plain", _chunks(b"x"), max_bytes=10)
        ttl = raw.pttl(f"mailgate:v:{owner}:{other.id}:meta")
        assert 43_200_000 < ttl <= 43_261_000
    finally:
        await vault.wipe_all()
        await store.clear()
        raw.close()
        await store.close()
        await vault.close()


async def test_redis_vault_unreachable_is_503():
    vault = RedisVault(f"redis://:pw@127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(StoreUnavailable):
            await vault.usage(secrets.token_hex(32))
    finally:
        await vault.close()


# --- the API on both backends -----------------------------------------------------------------


def _store_settings(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    if backend == "memory":
        return {"backend": "memory"}
    server = request.getfixturevalue("redis_server")
    # Asked for here, not as an argument, so _empty_redis did not see it: empty it now, or
    # keys another test left behind (an interrupted wipe) would show in this test's dumps.
    raw = _raw(server)
    try:
        raw.flushall()
    finally:
        raw.close()
    return {"backend": "redis", "redis_url": server.url}


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_session_upload_preferences_api_on_both_backends(
    backend, request, make_mailgate, user, tmp_path
):
    mg = make_mailgate(store=_store_settings(backend, request), data={"dir": str(tmp_path)})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        assert (await api.get("/api/session")).status == 200
        up = await api.post("/api/uploads", data=_file(b"both backends"))
        assert up.status == 201, up
        listed = (await api.get("/api/uploads")).json()["uploads"]
        assert [u["id"] for u in listed] == [up.json()["id"]]
        put = await api.request("PUT", "/api/preferences", json={"theme": "dark"})
        assert put.status == 200, put
        assert (await api.get("/api/preferences")).json()["preferences"] == {"theme": "dark"}
        assert (await api.request("DELETE", f"/api/uploads/{up.json()['id']}")).status == 204
        assert (await api.get("/api/uploads")).json()["uploads"] == []
        await api.post("/api/uploads", data=_file(b"wiped at logout"))
        vault = mg.services.vault
        assert vault.dump()
        assert (await api.logout()).status == 204
        assert vault.dump() == b""
        assert mg.services.store.dump() == b""
        assert (await api.get("/api/session")).status == 401
        # Preferences are the one thing kept after logout.
        assert (await api.login(*user)).status == 201
        assert (await api.get("/api/preferences")).json()["preferences"] == {"theme": "dark"}


def _message(to: str, subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "sender@example.test"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return bytes(msg)


def _second_client(first: ApiClient, url: str, ssl_ctx) -> ApiClient:
    other = ApiClient(url, ssl_ctx)
    other.cookie, other.csrf = first.cookie, first.csrf
    return other


async def test_two_instances_share_sessions_uploads_and_logout(
    make_mailgate, upstream, redis_server, user, tmp_path
):
    settings = {"backend": "redis", "redis_url": redis_server.url}
    a = make_mailgate(store=settings, data={"dir": str(tmp_path)})
    b = make_mailgate(store=settings, data={"dir": str(tmp_path)})
    upstream.deliver(user[0], _message(user[0], "two instances", "read me on B"))
    async with ApiClient(a.url, a.client_ssl()) as on_a:
        assert (await on_a.login(*user)).status == 201
        async with _second_client(on_a, b.url, b.client_ssl()) as on_b:
            boxes = await on_b.get("/api/mailboxes")
            assert boxes.status == 200, boxes
            inbox = next(m for m in boxes.json()["mailboxes"] if m["role"] == "inbox")
            listing = await on_b.get(f"/api/mailboxes/{inbox['id']}/messages")
            assert listing.status == 200
            [summary] = listing.json()["messages"]
            assert summary["subject"] == "two instances"
            message = await on_b.get(f"/api/messages/{summary['id']}")
            assert message.status == 200 and "read me on B" in message.json()["text"]

            up = await on_a.post("/api/uploads", data=_file(b"uploaded on A"))
            assert up.status == 201
            listed = await on_b.get("/api/uploads")
            assert [u["id"] for u in listed.json()["uploads"]] == [up.json()["id"]]

            put = await on_b.request("PUT", "/api/preferences", json={"page_size": 25})
            assert put.status == 200
            got = await on_a.get("/api/preferences")
            assert got.json()["preferences"] == {"page_size": 25}

            assert (await on_b.logout()).status == 204
            gone = await on_a.get("/api/session")
            assert gone.status == 401 and gone.error_code == "auth_required"
            assert (await on_a.get("/api/uploads")).status == 401
            assert a.services.vault.dump() == b""


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_redis_outage_answers_503_then_recovers(make_mailgate, user, tmp_path):
    server = _redis_or_skip()
    server.start()
    try:
        mg = make_mailgate(
            store={"backend": "redis", "redis_url": server.url}, data={"dir": str(tmp_path)}
        )
        async with ApiClient(mg.url, mg.client_ssl()) as api:
            assert (await api.login(*user)).status == 201
            assert (
                await api.request("PUT", "/api/preferences", json={"theme": "light"})
            ).status == 200
            cookie = api.cookie
            # Snapshot so that the restarted (memory-only) server comes back with its data,
            # like a Redis with persistence or one behind a network cut.
            with _raw(server) as raw:
                raw.save()
            server.stop()
            for method, path in (
                ("GET", "/api/session"),
                ("GET", "/api/uploads"),
                ("GET", "/api/preferences"),
                ("PUT", "/api/preferences"),
                ("DELETE", "/api/session"),
            ):
                resp = await api.request(method, path, json={} if method == "PUT" else None)
                assert resp.status == 503, (method, path, resp)
                assert resp.json() == {
                    "error": {
                        "code": "store_unavailable",
                        "message": resp.json()["error"]["message"],
                    }
                }
                assert resp.set_cookies() == []  # no silent logout
            relogin = await api.login(*user)
            assert relogin.status == 503 and relogin.error_code == "store_unavailable"
            assert api.cookie == cookie
            server.start()
            resp = await api.get("/api/session")
            assert resp.status == 200, resp
            assert (await api.get("/api/preferences")).json()["preferences"] == {"theme": "light"}
            assert (await api.post("/api/uploads", data=_file(b"after"))).status == 201
    finally:
        server.cleanup()


def _forms(value: bytes) -> list[bytes]:
    text = value.decode()
    return [
        value,
        base64.b64encode(value),
        base64.urlsafe_b64encode(value),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        value.hex().encode(),
    ]


async def test_sec_49_nothing_readable_at_rest_in_redis(
    make_mailgate, upstream, redis_server, user, tmp_path
):
    mg = make_mailgate(
        store={"backend": "redis", "redis_url": redis_server.url}, data={"dir": str(tmp_path)}
    )
    email, password = user
    attachment = ("ATTACHMENT-CANARY-" + secrets.token_hex(8)).encode()
    signature = "SIGNATURE-CANARY-" + secrets.token_hex(8)
    name = "NAME-CANARY-" + secrets.token_hex(4)
    sender = f"img-canary-{secrets.token_hex(4)}.example"
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(email, password)).status == 201
        up = await api.post("/api/uploads", data=_file(attachment * 3))
        assert up.status == 201
        put = await api.request(
            "PUT",
            "/api/preferences",
            json={"signature": signature, "display_name": name, "remote_images_senders": [sender]},
        )
        assert put.status == 200
        with _raw(redis_server) as raw:
            keys = list(raw.scan_iter(match="*"))
            assert any(k.startswith(b"mailgate:s:") for k in keys)
            assert any(k.startswith(b"mailgate:v:") for k in keys)
            assert any(k.startswith(b"mailgate:p:") for k in keys)
            blobs = []
            for key in keys:
                blobs += [key, raw.dump(key) or b""]
                kind = raw.type(key)
                if kind == b"string":
                    blobs.append(raw.get(key) or b"")
                elif kind == b"hash":
                    blobs += [b for pair in raw.hgetall(key).items() for b in pair]
        everything = b"\n".join(blobs)
        canaries = [
            email.encode(),
            email.split("@")[0].encode(),
            password.encode(),
            attachment,
            signature.encode(),
            name.encode(),
            sender.encode(),
            api.cookie.encode(),
        ]
        for canary in canaries:
            for form in _forms(canary):
                assert form not in everything, canary
        assert (await api.get("/api/session")).status == 200  # the session was live throughout
