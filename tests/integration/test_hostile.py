"""Messages built to be expensive to read, delivered to a real Dovecot and opened through
the API (issue 15): each answers quickly with a 2xx, the degraded ones say so, reopening
costs nothing, and the server's event loop is never blocked for long meanwhile."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from mailgate.mail.reading.service import ReadingService
from mailgate.testing.client import ApiClient
from tests.integration.hostile_mail import HOSTILE

pytestmark = pytest.mark.parametrize("upstream", ["dovecot"], indirect=True)

# Shapes the limits refuse outright (the degraded view); the HTML ones are flattened or cut
# and still shown.
DEGRADED = {
    "deep-multipart",
    "many-parts",
    "many-headers",
    "many-encoded-words",
    "many-recipients",
    "deep-rfc822",
}
ANSWER_WITHIN_S = 10.0


def _name_of(summary: dict[str, Any]) -> str:
    subject = summary["subject"]
    return (
        subject.removeprefix("hostile ") if subject.startswith("hostile ") else "many-encoded-words"
    )


async def _hostile_ids(api: ApiClient) -> dict[str, str]:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    resp = await api.get(f"/api/mailboxes/{inbox['id']}/messages?limit=50")
    assert resp.status == 200, resp
    ids = {_name_of(m): m["id"] for m in resp.json()["messages"]}
    assert set(ids) == set(HOSTILE)
    return ids


def _reading(mg: Any) -> ReadingService:
    return mg.services.reading


async def _timed_get(api: ApiClient, path: str) -> tuple[Any, float]:
    started = time.monotonic()
    resp = await api.get(path)
    return resp, time.monotonic() - started


async def test_each_hostile_message_opens_quickly_and_honestly(upstream, mailgate, user):
    for make in HOSTILE.values():
        upstream.deliver(user[0], make())
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        ids = await _hostile_ids(api)
        for name, message in ids.items():
            resp, took = await _timed_get(api, f"/api/messages/{message}")
            assert resp.status == 200, (name, resp)
            assert took < ANSWER_WITHIN_S, (name, took)
            body = resp.json()
            assert body["degraded"] is (name in DEGRADED), name
            if body["degraded"]:
                assert body["notice"] and "too complex" in body["notice"], name
                assert body["from"] == [{"name": "Mallory", "email": "mallory@example.test"}]
            else:
                assert body["notice"] is None and body["has_html"], name
            if name == "many-recipients":
                assert body["subject"] == "hostile many-recipients"
                assert 0 < len(body["to"]) <= 100  # the first ones, never all 30,000
            for suffix in ("/body.html", "/raw"):
                resp, took = await _timed_get(api, f"/api/messages/{message}{suffix}")
                assert resp.status == 200, (name, suffix, resp)
                assert took < ANSWER_WITHIN_S, (name, suffix, took)
            frame = (await api.get(f"/api/messages/{message}/body.html")).body.decode()
            if name == "deep-html":
                assert "deep" in frame and frame.count("<div>") <= 200
            if name == "long-line-html":
                assert "word" in frame
            if name in DEGRADED:
                assert "too complex" in frame

        # Reopening is served from the render cache (the session's 8 latest): no worker
        # runs again, degraded views included.
        tasks = _reading(mailgate).workers.counters["tasks"]
        latest = list(ids.items())[-8:]
        assert any(name in DEGRADED for name, _ in latest)
        for name, message in reversed(latest):
            resp, took = await _timed_get(api, f"/api/messages/{message}?peek=1")
            assert resp.status == 200 and took < 1.0, (name, took)
            assert (await api.get(f"/api/messages/{message}/body.html")).status == 200
        assert _reading(mailgate).workers.counters["tasks"] == tasks


async def _probe_loop(stop: asyncio.Event, lags: list[float]) -> None:
    """On the server's loop: how late each 20 ms tick fires."""
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(0.02)
        lags.append(time.monotonic() - before - 0.02)


async def test_opening_hostile_messages_never_blocks_the_event_loop(upstream, mailgate, user):
    for make in HOSTILE.values():
        upstream.deliver(user[0], make())
    other = upstream.new_user()
    lags: list[float] = []
    stop = asyncio.Event()
    loop = mailgate.thread.loop
    probe = asyncio.run_coroutine_threadsafe(_probe_loop(stop, lags), loop)
    session_times: list[float] = []
    async with (
        ApiClient(mailgate.url, mailgate.client_ssl()) as api,
        ApiClient(mailgate.url, mailgate.client_ssl()) as bystander,
    ):
        assert (await api.login(*user)).status == 201
        assert (await bystander.login(*other)).status == 201
        ids = await _hostile_ids(api)
        done = asyncio.Event()

        async def watch() -> None:
            while not done.is_set():
                resp, took = await _timed_get(bystander, "/api/session")
                assert resp.status == 200
                session_times.append(took)
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        # One at a time, then all at once.
        for message in ids.values():
            assert (await api.get(f"/api/messages/{message}/body.html")).status == 200
        mailgate.call(_forget_all(mailgate))
        results = await asyncio.gather(
            *(api.get(f"/api/messages/{m}/body.html") for m in ids.values())
        )
        assert all(r.status == 200 for r in results)
        done.set()
        await watcher
    loop.call_soon_threadsafe(stop.set)
    probe.result(5)
    assert lags and session_times
    assert max(lags) < 1.0, f"the event loop was blocked for {max(lags):.2f} s"
    assert max(session_times) < 2.0, f"a second session waited {max(session_times):.2f} s"


async def _forget_all(mg: Any) -> None:
    """Empty the render cache (on the server's loop), so everything renders again."""
    for lookup in await mg.services.store.lookups():
        _reading(mg).forget(lookup)
