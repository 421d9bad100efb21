"""Background task that wipes expired sessions within `reap_interval_s`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.logs import log_event
from mailgate.session.manager import SessionManager

__all__ = ["REAPER", "Reaper"]


class Reaper:
    def __init__(self, manager: SessionManager, interval_s: float, clock: Clock = SYSTEM_CLOCK):
        self._manager = manager
        self._interval = interval_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        # Completed sweeps, so a test that moved the clock can tell one has run since.
        self.passes = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mailgate-reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await self._clock.sleep(self._interval)
            try:
                await self._manager.reap()
            except Exception as exc:  # keep reaping whatever one pass hit
                log_event("reaper_error", logging.ERROR, error_class=type(exc).__name__)
            self.passes += 1


# The app's reaper, for tests that move a ManualClock and wait for the sweep it causes.
REAPER = web.AppKey("mailgate_reaper", Reaper)
