"""Redis Sentinel (issue 23): a real primary, replica and three sentinels; the primary is
killed by PID mid-session. Requests in the failover window get 503 `store_unavailable`
(never a 500, never a logout), then the same session works on the promoted replica, and
what was acknowledged before the kill (the login, an upload, a preference) is still there,
because those writes waited for a replica (`min_replica_acks = 1`, Redis WAIT)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from mailgate.config import ConfigError, load_config
from mailgate.testing.client import ApiClient
from tests.servers.sentinel import SentinelCluster, running_sentinels

pytestmark = pytest.mark.redis


def _file(content: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", content, filename="kept.bin", content_type="application/octet-stream")
    return form


@pytest.fixture
def cluster():
    if not SentinelCluster.available():
        pytest.skip("redis-sentinel is not installed (apt-get install redis-sentinel)")
    with running_sentinels() as running:
        yield running


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_sentinel_failover_503_then_same_session_nothing_lost(
    make_mailgate, user, cluster, tmp_path
):
    mg = make_mailgate(
        store=cluster.store_settings(min_replica_acks=1), data={"dir": str(tmp_path)}
    )
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        up = await api.post("/api/uploads", data=_file(b"acknowledged before the kill"))
        assert up.status == 201, up
        put = await api.request("PUT", "/api/preferences", json={"theme": "dark"})
        assert put.status == 200, put
        cookie = api.cookie

        old_primary = cluster.primary_port()
        assert old_primary == cluster.node_ports[0]
        cluster.kill(old_primary)

        statuses: list[int] = []
        deadline = time.monotonic() + 30
        while True:
            resp = await api.get("/api/session")
            statuses.append(resp.status)
            assert resp.status in (200, 503), resp
            if resp.status == 503:
                assert resp.error_code == "store_unavailable"
                assert resp.set_cookies() == []  # no silent logout
            elif cluster.primary_port() != old_primary:
                break
            assert time.monotonic() < deadline, (statuses, cluster.logs())
            await asyncio.sleep(0.1)
        assert 503 in statuses, "the failover window was never seen"
        assert cluster.primary_port() == cluster.node_ports[1]

        # The same session, on the promoted replica, with everything acknowledged.
        assert api.cookie == cookie
        assert (await api.get("/api/session")).status == 200
        listed = (await api.get("/api/uploads")).json()["uploads"]
        assert [(u["id"], u["size"]) for u in listed] == [(up.json()["id"], 28)]
        # Its sealed content piece (not only the index and meta) is on the new primary.
        assert f":{up.json()['id']}:0 ".encode() in mg.services.vault.dump()
        assert (await api.get("/api/preferences")).json()["preferences"] == {"theme": "dark"}
        # No replica is left, so WAIT cannot be met: a write is not acknowledged (the
        # same 503; the client may retry it), never reported as safe.
        again = await api.request("PUT", "/api/preferences", json={"theme": "light"})
        assert again.status == 503 and again.error_code == "store_unavailable"
    # An instance that does not wait for replicas writes to the new primary.
    unsafe = make_mailgate(store=cluster.store_settings(), data={"dir": str(tmp_path)})
    async with ApiClient(unsafe.url, unsafe.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        put = await api.request("PUT", "/api/preferences", json={"theme": "system"})
        assert put.status == 200, put
        assert (await api.get("/api/preferences")).json()["preferences"] == {"theme": "system"}


def test_sentinel_settings_and_file_variants(tmp_path):
    secret = tmp_path / "redis_password"
    secret.write_text("s3cret-from-file\n")
    env = {
        "MAILGATE_IMAP_HOST": "imap.example.test",
        "MAILGATE_SMTP_HOST": "smtp.example.test",
        "MAILGATE_TLS_CERT_FILE": "/nonexistent/cert.pem",
        "MAILGATE_TLS_KEY_FILE": "/nonexistent/key.pem",
        "MAILGATE_STORE_BACKEND": "redis",
        "MAILGATE_STORE_SENTINEL_SERVICE": "mymaster",
        "MAILGATE_STORE_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379,[::1]:26379",
        "MAILGATE_STORE_REDIS_USERNAME": "mailgate",
        "MAILGATE_STORE_REDIS_PASSWORD_FILE": str(secret),
        "MAILGATE_STORE_SENTINEL_PASSWORD_FILE": str(secret),
        "MAILGATE_STORE_REDIS_TLS": "true",
        "MAILGATE_STORE_MIN_REPLICA_ACKS": "1",
    }
    store = load_config(None, env).store
    assert store.sentinels == ("10.0.0.1:26379", "10.0.0.2:26379", "[::1]:26379")
    assert store.redis_password == store.sentinel_password == "s3cret-from-file"
    assert store.redis_tls and store.min_replica_acks == 1
    for broken, message in (
        ({"MAILGATE_STORE_SENTINELS": "10.0.0.1"}, "host:port"),
        ({"MAILGATE_STORE_SENTINEL_SERVICE": ""}, "Sentinel needs both"),
        ({"MAILGATE_STORE_REDIS_URL": "redis://x"}, "not both"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(None, {**env, **broken})
