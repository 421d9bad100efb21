"""PushHub under racing tabs, reconnects and wipes. The upstream is a fault-injection fake
(a connection that can be told to drop, a login that takes a while); what is checked is
the hub's own bookkeeping: no feed, task or upstream connection outlives its session."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mailgate.config import ImapConfig, PushConfig
from mailgate.mail.imap.errors import ImapUnavailable
from mailgate.push.hub import PushHub, SessionGone


class _Conn:
    def has(self, capability: str) -> bool:
        return True


class _Client:
    connection = _Conn()
    news_taken = 0

    def __init__(self, opened: list[_Client]):
        self.closed = False
        self.logged_out = False
        self.drop = False
        opened.append(self)

    async def status(self, path: str) -> tuple[int, int]:
        return 1, 0

    async def select(self, path: str, readonly: bool = False, refresh: bool = True) -> None:
        return None

    async def idle(self, timeout: float) -> list[Any]:
        while not self.drop:
            await asyncio.sleep(0.01)
        raise ImapUnavailable("dropped")

    async def logout(self) -> None:
        self.logged_out = not self.closed  # LOGOUT goes out only on a live connection
        self.closed = True  # as MailClient.logout: closed afterwards, whatever happened

    def close(self) -> None:
        self.closed = True


class _Pool:
    def __init__(self) -> None:
        self.opened: list[_Client] = []
        self.delay = 0.0

    async def connect(self, credentials: Any) -> _Client:
        client = _Client(self.opened)
        await asyncio.sleep(self.delay)
        return client

    def live(self) -> list[_Client]:
        return [c for c in self.opened if not c.closed]


def _hub(pool: _Pool) -> PushHub:
    return PushHub(pool, ImapConfig(), PushConfig())  # type: ignore[arg-type]


def _feed_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "mailgate-push-feed"]


async def test_a_wipe_during_the_upstream_login_wins() -> None:
    pool = _Pool()
    pool.delay = 0.2
    hub = _hub(pool)
    listening = asyncio.create_task(hub.listen("s1", lambda: None))
    await asyncio.sleep(0.05)
    await hub.end("s1")  # logout while the feed is still logging in
    with pytest.raises(SessionGone):
        await listening
    assert pool.live() == [] and hub.open_count() == 0
    await asyncio.sleep(0)
    assert _feed_tasks() == []


async def test_reconnecting_tabs_never_leave_a_second_feed_behind() -> None:
    pool = _Pool()
    hub = _hub(pool)
    a = await hub.listen("s1", lambda: None)
    pool.opened[0].drop = True  # the upstream drops tab A's feed
    await asyncio.sleep(0.05)
    pool.delay = 0.2
    b_task = asyncio.create_task(hub.listen("s1", lambda: None))  # B reconnects (holds lock)
    await asyncio.sleep(0.02)
    await hub.unlisten(a)  # A saw the end and goes
    pool.delay = 0.1
    c_task = asyncio.create_task(hub.listen("s1", lambda: None))  # C opens meanwhile
    b, c = await b_task, await c_task
    assert b.feed is c.feed  # one feed for the session
    assert len(pool.live()) == 1
    await hub.unlisten(b)
    await hub.unlisten(c)
    assert pool.live() == [] and hub.open_count() == 0
    await hub.end("s1")
    await asyncio.sleep(0)
    assert _feed_tasks() == []


async def test_the_wipe_ends_every_listener_of_the_session() -> None:
    pool = _Pool()
    hub = _hub(pool)
    subs = [await hub.listen("s1", lambda: None) for _ in range(3)]
    other = await hub.listen("s2", lambda: None)
    await hub.end("s1")
    for sub in subs:
        items = [sub.listener.get_nowait() for _ in range(sub.listener.qsize())]
        assert items[-1] is None  # the end marker
    assert other.listener.qsize() == 1  # s2's first counts only, nothing ended
    assert len(pool.live()) == 1 and hub.open_count() == 1
    await hub.end_all()
    assert pool.live() == []
    assert all(c.logged_out for c in pool.opened)  # each feed said LOGOUT, not just closed


async def test_a_listen_queued_behind_a_wiped_one_is_refused_too() -> None:
    pool = _Pool()
    pool.delay = 0.2
    hub = _hub(pool)
    first = asyncio.create_task(hub.listen("s1", lambda: None))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(hub.listen("s1", lambda: None))  # waits for the lock
    await asyncio.sleep(0.01)
    await hub.end("s1")
    for task in (first, second):
        with pytest.raises(SessionGone):
            await task
    assert pool.live() == [] and hub.open_count() == 0
    assert hub._opening == {}  # nothing of the session is left behind


async def test_wipes_of_sessions_without_push_cost_and_keep_nothing() -> None:
    """Every logout and expiry reaches the hub; none may leave state (or cost more as
    they pile up: 20,000 wipes used to take seconds of blocked event loop)."""
    hub = _hub(_Pool())
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(20_000):
        await hub.end(f"s{n}")
    assert loop.time() - started < 1.0
    assert hub._opening == {} and hub.open_count() == 0
    sub = await hub.listen("s1", lambda: None)  # a later session of the same id is fine
    await hub.unlisten(sub)
    assert hub._opening == {}
