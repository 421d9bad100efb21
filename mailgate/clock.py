"""Time as a dependency: the session, store, reaper and throttle code reads the time
through a `Clock`, so tests can move it forward instead of sleeping.

`now()` is wall-clock time (epoch seconds: session deadlines, which Redis and other
instances must agree on); `monotonic()` only ever grows (throttle windows); `sleep()`
waits on this clock (the reaper's sweep interval).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this clock."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()
