"""Behind a real load balancer (issue 23): HAProxy with the shipped config/haproxy.cfg in
front of three `mailgate serve` processes sharing Redis, round robin without stickiness,
TLS re-encrypted to the instances. A session made on one instance lists, opens, uploads,
sends and streams events through whichever instance answers; SIGTERM of one instance under
load loses nothing (requests finish, its event streams end and reconnect elsewhere)."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest

from mailgate.testing.client import ApiClient
from tests.servers.cluster import MailgateCluster
from tests.servers.redis import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.parametrize("upstream", ["pymap"], indirect=True)]


@pytest.fixture
def cluster(upstream: Any) -> Iterator[MailgateCluster]:
    if not (MailgateCluster.available() and RedisServer.available()):
        pytest.skip("haproxy and redis-server are needed (apt-get install haproxy redis-server)")
    with RedisServer() as redis_server:
        settings = {k: dict(v) for k, v in upstream.settings.items()}
        settings["store"] = {"backend": "redis", "redis_url": redis_server.url}
        running = MailgateCluster(settings)
        try:
            yield running.start()
        finally:
            running.cleanup()


def _file(content: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", content, filename="lb.bin", content_type="application/octet-stream")
    return form


def _message(to: str, subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "sender@example.test"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("through the balancer")
    return bytes(msg)


def _api_requests(cluster: MailgateCluster) -> list[int]:
    return [
        sum(1 for e in cluster.requests_served(i) if e["route"].startswith("/api/"))
        for i in range(len(cluster.ports))
    ]


async def test_one_session_works_on_every_instance_behind_haproxy(cluster, upstream, user):
    upstream.deliver(user[0], _message(user[0], "balanced"))
    before = _api_requests(cluster)
    async with ApiClient(cluster.url, cluster.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        for _ in range(3):  # every operation several times: round robin spreads them
            boxes = await api.get("/api/mailboxes")
            assert boxes.status == 200, boxes
            inbox = next(m for m in boxes.json()["mailboxes"] if m["role"] == "inbox")
            listing = await api.get(f"/api/mailboxes/{inbox['id']}/messages")
            assert listing.status == 200, listing
            [summary] = listing.json()["messages"]
            opened = await api.get(f"/api/messages/{summary['id']}")
            assert opened.status == 200 and "through the balancer" in opened.json()["text"]
            up = await api.post("/api/uploads", data=_file(secrets.token_bytes(2000)))
            assert up.status == 201, up
            sent = await api.post(
                "/api/send",
                json={
                    "to": [f"lb-{secrets.token_hex(3)}@example.test"],
                    "subject": "via haproxy",
                    "text": "x",
                    "attachments": [up.json()["id"]],
                },
            )
            assert sent.status == 200, sent
            async with api.events() as stream:
                event = await stream.next(timeout=10)
                assert event is not None and event[0] == "mailbox", event
    after = _api_requests(cluster)
    spread = [a - b for a, b in zip(after, before, strict=True)]
    assert all(n >= 3 for n in spread), spread  # every instance served this session


async def test_sigterm_of_one_instance_under_load_loses_nothing(cluster, user):
    async with ApiClient(cluster.url, cluster.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        uploaded: list[str] = []
        failures: list[Any] = []
        stop = asyncio.Event()

        async def load() -> None:
            while not stop.is_set():
                try:
                    await one_round()
                except (aiohttp.ClientError, OSError) as exc:  # a dropped request
                    failures.append(repr(exc))

        async def one_round() -> None:
            boxes = await api.get("/api/mailboxes")
            if boxes.status != 200:
                failures.append(boxes)
            up = await api.post("/api/uploads", data=_file(b"k" * 5000))
            if up.status != 201:
                failures.append(up)
                return
            uploaded.append(up.json()["id"])
            # Acknowledged, so present wherever the next request lands: 204, not 404.
            gone = await api.request("DELETE", f"/api/uploads/{up.json()['id']}")
            if gone.status != 204:
                failures.append(gone)

        ended: list[int] = []

        async def watch(n: int) -> None:
            """An event stream; when its instance stops, it ends and reconnects."""
            while not stop.is_set():
                async with api.events() as stream:
                    while not stop.is_set():
                        try:
                            event = await stream.next(timeout=0.5)
                        except TimeoutError:
                            continue
                        if event is None:
                            ended.append(n)
                            break

        workers = [asyncio.create_task(load()) for _ in range(4)]
        watchers = [asyncio.create_task(watch(n)) for n in range(3)]
        await asyncio.sleep(1.5)
        proc = cluster.signal_instance(1, signal.SIGTERM)
        try:
            code = await asyncio.to_thread(proc.wait, 30)
        except Exception:
            proc.kill()
            raise AssertionError(cluster.output(1)) from None
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*workers, *watchers)
        assert code == 0, cluster.output(1)
        assert failures == []
        assert ended, "no event stream was on the stopped instance"
        assert len(uploaded) > 10
        assert (await api.get("/api/session")).status == 200  # the same session, no re-login
