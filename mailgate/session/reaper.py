"""Background task that wipes expired sessions within `reap_interval_s`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mailgate.logs import log_event
from mailgate.session.manager import SessionManager

__all__ = ["Reaper"]


class Reaper:
    def __init__(self, manager: SessionManager, interval_s: float):
        self._manager = manager
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None

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
            await asyncio.sleep(self._interval)
            try:
                await self._manager.reap()
            except Exception as exc:  # keep reaping whatever one pass hit
                log_event("reaper_error", logging.ERROR, error_class=type(exc).__name__)
