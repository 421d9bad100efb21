"""A clock that moves only when a test says so (see `mailgate.clock`).

Give it to `create_app(config, clock=...)` (or to a store, throttle or reaper) and call
`advance(seconds)` where a test would otherwise sleep: deadlines pass, and whatever
sleeps on the clock (the reaper) wakes, at once and in order. Safe to advance from
another thread than the one whose loop sleeps on it (a server in a background thread).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailgate.session.reaper import Reaper

__all__ = ["ManualClock", "advance_and_sweep"]


class ManualClock:
    def __init__(self, start: float | None = None) -> None:
        # Starts at the real time, so values compared with other clocks stay plausible.
        self._now = time.time() if start is None else start
        self._monotonic = 0.0
        self._lock = threading.Lock()
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._sleepers.append((self._monotonic + seconds, future))
        try:
            await future
        finally:
            with self._lock:
                self._sleepers = [(d, f) for d, f in self._sleepers if f is not future]

    @property
    def sleepers(self) -> int:
        """How many coroutines are sleeping on this clock right now."""
        with self._lock:
            return sum(1 for _, f in self._sleepers if not f.done())

    def advance(self, seconds: float) -> int:
        """Move both clocks forward and wake every sleeper whose time has come; returns
        how many were woken."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds
            self._monotonic += seconds
            due = [f for d, f in self._sleepers if d <= self._monotonic]
        for future in due:
            future.get_loop().call_soon_threadsafe(_wake, future)
        return len(due)

    async def wait_for_sleepers(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait (in real time, bounded) until `count` coroutines sleep on this clock, so
        an `advance()` that follows is seen by them."""
        async with asyncio.timeout(timeout):
            while self.sleepers < count:
                await asyncio.sleep(0.001)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def advance_and_sweep(
    clock: ManualClock, reaper: Reaper, seconds: float, timeout: float = 5.0
) -> bool:
    """Move `clock` forward and, when that ends the reaper's interval, wait (bounded, in
    real time) until its sweep has run. Returns whether a sweep ran."""
    await clock.wait_for_sleepers(1, timeout)
    passes = reaper.passes
    if not clock.advance(seconds):
        return False
    async with asyncio.timeout(timeout):
        while reaper.passes == passes:
            await asyncio.sleep(0.001)
    return True
