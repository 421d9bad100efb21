"""Session deadlines, the reaper and the login throttle on a ManualClock: time moves when
the test says, so idle and absolute expiry, sweeps and back-off are checked exactly and
without sleeping (invariant 2). tests/integration keeps the real-time end-to-end runs."""

from __future__ import annotations

import asyncio
import secrets
import ssl

import pytest

from mailgate.config import Config, ThrottleConfig
from mailgate.mail.pool import ImapPool
from mailgate.mail.upstreams import UpstreamDirectory
from mailgate.session.manager import SessionManager
from mailgate.session.reaper import Reaper
from mailgate.session.throttle import LoginThrottle
from mailgate.store.interface import SessionRecord
from mailgate.store.memory import MemoryStore
from mailgate.testing.clock import ManualClock, advance_and_sweep


def _record(now: float, idle: int = 60, absolute: float = 3600) -> SessionRecord:
    return SessionRecord(now, now, idle, now + absolute, b"\x01" * 40)


# --- the clock itself ----------------------------------------------------------------------


async def test_manual_clock_moves_only_when_advanced_and_wakes_sleepers_in_time() -> None:
    clock = ManualClock(start=1000.0)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("short", 5)), asyncio.create_task(sleeper("long", 10))]
    await clock.wait_for_sleepers(2)
    assert clock.now() == 1000.0 and clock.monotonic() == 0.0
    clock.advance(4.9)
    await asyncio.sleep(0)
    assert woke == []
    clock.advance(0.1)
    await tasks[0]
    assert woke == ["short"] and clock.sleepers == 1
    clock.advance(5)
    await tasks[1]
    assert woke == ["short", "long"] and clock.now() == 1010.0 and clock.sleepers == 0
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_manual_clock_wakes_a_sleeper_on_another_threads_loop() -> None:
    from mailgate.testing.loop import LoopThread

    clock = ManualClock()
    thread = LoopThread("clock-test")
    try:
        future = asyncio.run_coroutine_threadsafe(clock.sleep(30), thread.loop)
        thread.call(clock.wait_for_sleepers(1))
        assert not future.done()
        clock.advance(30)  # from this thread
        assert future.result(timeout=5) is None
    finally:
        thread.close()


# --- the memory store reads the clock ------------------------------------------------------


async def test_memory_store_idle_deadline_restarts_on_touch() -> None:
    clock = ManualClock()
    store = MemoryStore(clock)
    lookup = secrets.token_hex(32)
    await store.create(lookup, _record(clock.now(), idle=60))
    clock.advance(59)
    assert await store.get(lookup) is not None
    await store.touch(lookup, clock.now())
    clock.advance(59)  # 118 s after creation, 59 s after the touch
    assert await store.get(lookup) is not None
    assert await store.expired(clock.now()) == []
    clock.advance(1)
    assert await store.get(lookup) is None
    assert await store.expired(clock.now()) == [(lookup, "idle")]


async def test_memory_store_absolute_deadline_ends_an_active_session() -> None:
    clock = ManualClock()
    store = MemoryStore(clock)
    lookup = secrets.token_hex(32)
    await store.create(lookup, _record(clock.now(), idle=60, absolute=100))
    for _ in range(3):
        clock.advance(30)
        await store.touch(lookup, clock.now())
        assert await store.get(lookup) is not None  # 90 s in, touched every 30 s
    clock.advance(10)
    assert await store.get(lookup) is None
    assert await store.expired(clock.now()) == [(lookup, "absolute")]


# --- the reaper sweeps on the clock ---------------------------------------------------------


def _manager(clock: ManualClock, idle: int = 60, absolute: int = 600) -> SessionManager:
    config = Config().replace(
        session={"idle_timeout_s": idle, "absolute_timeout_s": absolute, "reap_interval_s": 1}
    )
    upstreams = UpstreamDirectory(config)
    pool = ImapPool(config.imap, ssl.create_default_context(), upstreams)
    return SessionManager(
        config, MemoryStore(clock), pool, LoginThrottle(config.throttle, clock), upstreams, clock
    )


async def _sweep(reaper: Reaper, clock: ManualClock, seconds: float) -> None:
    assert await advance_and_sweep(clock, reaper, seconds)


async def test_reaper_wipes_idle_and_absolute_sessions_within_one_sweep() -> None:
    clock = ManualClock()
    manager = _manager(clock, idle=60, absolute=600)
    wiped: list[tuple[str, str]] = []

    async def hook(lookup: str, reason: str) -> None:
        wiped.append((lookup, reason))

    manager.wipe_hooks.append(hook)
    idle, active = secrets.token_hex(32), secrets.token_hex(32)
    now = clock.now()
    await manager.store.create(idle, SessionRecord(now, now, 60, now + 600, b"x"))
    await manager.store.create(active, SessionRecord(now, now, 60, now + 600, b"y"))
    reaper = Reaper(manager, 1, clock)
    reaper.start()
    try:
        for _ in range(59):
            await _sweep(reaper, clock, 1)
            await manager.store.touch(active, clock.now())
        assert wiped == [] and len(await manager.store.lookups()) == 2
        await _sweep(reaper, clock, 1)  # 60 s: the untouched one is idle
        assert wiped == [(idle, "idle")]
        assert await manager.store.lookups() == [active]
        for _ in range(539):  # kept active until the absolute deadline
            clock.advance(1)
            await manager.store.touch(active, clock.now())
        await _sweep(reaper, clock, 1)
        assert wiped == [(idle, "idle"), (active, "absolute")]
        assert await manager.store.lookups() == []
        assert manager.counters == {"wipe_idle": 1, "wipe_absolute": 1}
    finally:
        await reaper.stop()


async def test_reaper_sleeps_its_interval_on_the_clock() -> None:
    clock = ManualClock()
    manager = _manager(clock)
    reaper = Reaper(manager, 5, clock)
    reaper.start()
    try:
        assert not await advance_and_sweep(clock, reaper, 4.5)
        assert reaper.passes == 0
        await _sweep(reaper, clock, 0.5)
        assert reaper.passes == 1
    finally:
        await reaper.stop()
    assert clock.sleepers == 0


# --- the login throttle reads the clock's monotonic time -------------------------------------


def test_account_backoff_doubles_and_then_passes() -> None:
    clock = ManualClock()
    throttle = LoginThrottle(ThrottleConfig(account_free_failures=3), clock)
    for _ in range(3):
        assert throttle.retry_after("a@example.test", "c1", "") == 0
        throttle.failed("a@example.test", "c1", "")
    assert throttle.retry_after("a@example.test", "c2", "") == 1  # 2**0 s after the 3rd
    clock.advance(1)
    assert throttle.retry_after("a@example.test", "c2", "") == 0
    throttle.failed("a@example.test", "c2", "")
    assert throttle.retry_after("A@Example.test ", "c3", "") == 2  # same account, 2**1 s
    clock.advance(2)
    assert throttle.retry_after("a@example.test", "c3", "") == 0
    throttle.succeeded("a@example.test")
    throttle.failed("a@example.test", "c3", "")
    assert throttle.retry_after("a@example.test", "c3", "") == 0  # a success forgave


def test_client_window_slides_with_the_clock() -> None:
    clock = ManualClock()
    config = ThrottleConfig(client_max_failures=5)
    throttle = LoginThrottle(config, clock)
    for i in range(5):
        throttle.failed(f"sprayed{i}@example.test", "client", "")
        clock.advance(1)
    wait = throttle.retry_after("another@example.test", "client", "")
    assert wait == config.window_s - 5  # until the first failure leaves the window
    assert throttle.retry_after("another@example.test", "other client", "") == 0
    clock.advance(wait)
    assert throttle.retry_after("another@example.test", "client", "") == 0
