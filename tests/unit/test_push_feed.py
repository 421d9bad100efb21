"""The push feed's own bookkeeping around IDLE: it counts again when a reply since its last
count brought news (which IDLE would not report a second time), at most three times in a
row; a server that attaches news to every reply then gets IDLEs no longer than the poll
interval, so the counts never stay old for the 25 minutes of a full IDLE. The upstream is
a fake whose STATUS can be told to carry news; what is checked is the feed's sequence of
commands."""

from __future__ import annotations

import asyncio
from typing import Any

from mailgate.config import PushConfig
from mailgate.push.feed import SessionFeed

CONFIG = PushConfig(poll_interval_s=7.0, idle_renew_s=1500.0)


class _Conn:
    def has(self, capability: str) -> bool:
        return capability == "IDLE"


class _Client:
    connection = _Conn()

    def __init__(self, *, noisy: bool) -> None:
        self.noisy = noisy  # every STATUS reply carries news of the selected mailbox
        self.news_taken = 0
        self.log: list[str] = []
        self.idles: list[float] = []
        self.wake = asyncio.Event()
        self.total = 0

    async def status(self, path: str) -> tuple[int, int]:
        self.log.append("STATUS")
        if self.noisy:
            self.news_taken += 1
        return self.total, 0

    async def select(self, path: str, readonly: bool = False, refresh: bool = True) -> None:
        self.log.append("SELECT" if refresh else "select (kept)")

    async def idle(self, timeout: float) -> list[Any]:
        self.log.append("IDLE")
        self.idles.append(timeout)
        await self.wake.wait()
        self.wake.clear()
        return []

    async def logout(self) -> None:
        pass

    def close(self) -> None:
        pass


async def _until_idle(client: _Client, count: int) -> None:
    async with asyncio.timeout(5):
        while client.log.count("IDLE") < count:
            await asyncio.sleep(0)


async def test_a_quiet_server_gets_one_count_then_a_full_idle() -> None:
    client = _Client(noisy=False)
    feed = SessionFeed(client, CONFIG, command_timeout_s=5)  # type: ignore[arg-type]
    await feed.start()
    await _until_idle(client, 1)
    # (The fake's select never changes its news: a real first selection counts as news,
    # and the feed then counts once more before it IDLEs.)
    assert client.log == ["STATUS", "select (kept)", "IDLE"]
    assert client.idles == [1500.0]
    await feed.stop()


async def test_news_on_every_reply_is_recounted_three_times_then_idle_is_short() -> None:
    client = _Client(noisy=True)
    feed = SessionFeed(client, CONFIG, command_timeout_s=5)  # type: ignore[arg-type]
    await feed.start()
    await _until_idle(client, 1)
    one_round = ["select (kept)", "STATUS"] * 3 + ["select (kept)", "IDLE"]
    assert client.log == ["STATUS", *one_round]
    assert client.idles == [7.0]  # news still pending: no longer than a poll
    client.total = 1
    client.wake.set()  # IDLE returns (new mail): the count is taken, then the same again
    await _until_idle(client, 2)
    assert client.log == ["STATUS", *one_round, "STATUS", *one_round]
    assert client.idles == [7.0, 7.0]
    assert feed.latest is not None and feed.latest.total == 1
    await feed.stop()
