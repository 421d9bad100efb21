"""One session's live INBOX counts: one upstream connection, any number of listeners.

The connection is opened with the session's credentials when the first listener comes
and closed when the last one goes, the feed ends, or the session is wiped. It holds no
credentials itself: when the server drops it, the feed ends and the browser's
EventSource reconnects with its cookie, which proves the session is still alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from mailgate.config import PushConfig
from mailgate.logs import log_event
from mailgate.mail.ids import mailbox_id
from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.errors import ImapError

__all__ = ["Listener", "MailboxCounts", "SessionFeed"]

WATCHED = "INBOX"
# Counts asked for in a row, before IDLE, because replies brought news (see _wait_for_change).
_MAX_RECOUNTS = 3


@dataclass(frozen=True)
class MailboxCounts:
    mailbox: str
    total: int
    unread: int

    def as_json(self) -> dict[str, str | int]:
        return {"mailbox": self.mailbox, "total": self.total, "unread": self.unread}


# A listener's queue yields counts, then None once the feed has ended.
Listener = asyncio.Queue[MailboxCounts | None]


class SessionFeed:
    def __init__(self, client: MailClient, config: PushConfig, command_timeout_s: float):
        self._client = client
        self._config = config
        self._timeout = command_timeout_s
        self._listeners: set[Listener] = set()
        self._task: asyncio.Task[None] | None = None
        self.latest: MailboxCounts | None = None
        # The connection's news counter when the last count was asked for, and how many
        # counts in a row were asked for because of news taken in outside IDLE.
        self._counted_at = 0
        self._recounts = 0
        self.uses_idle = config.idle and client.connection.has("IDLE")

    @property
    def ended(self) -> bool:
        return self._task is not None and self._task.done()

    async def start(self) -> None:
        """Read the first counts (raising ImapError or TimeoutError), then watch."""
        self.latest = await self._counts()
        self._task = asyncio.create_task(self._run(), name="mailgate-push-feed")

    def listen(self) -> Listener:
        queue: Listener = asyncio.Queue(maxsize=8)
        if self.latest is not None:
            queue.put_nowait(self.latest)
        if self.ended:
            queue.put_nowait(None)
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: Listener) -> bool:
        """Forget one listener; True when none are left."""
        self._listeners.discard(queue)
        return not self._listeners

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._publish(None)
        # The feed's task is gone, so nothing holds the connection: LOGOUT (bounded,
        # errors ignored) and close. A connection that dropped or hung is closed already.
        await self._client.logout()

    async def _counts(self) -> MailboxCounts:
        self._counted_at = self._client.news_taken
        async with asyncio.timeout(self._timeout):
            total, unread = await self._client.status(WATCHED)
        return MailboxCounts(mailbox_id(WATCHED), total, unread)

    async def _wait_for_change(self) -> None:
        if not self.uses_idle:
            await asyncio.sleep(self._config.poll_interval_s)
            return
        async with asyncio.timeout(self._timeout):
            # No NOOP on a kept selection: IDLE itself reports what changed since.
            await self._client.select(WATCHED, readonly=True, refresh=False)
        pending = self._client.news_taken != self._counted_at
        if pending and self._recounts < _MAX_RECOUNTS:
            # A reply since the last count (the STATUS itself, say, counted just before a
            # message came) brought news: IDLE would not report it again, so count first.
            # Bounded, in case a server attaches news to every reply.
            self._recounts += 1
            return
        self._recounts = 0
        # Returns at the first untagged response (new mail, a flag change, a keep-alive)
        # or when it is time to renew the IDLE; with news still pending after the recounts,
        # at the latest when the next poll would have come.
        renew = self._config.idle_renew_s
        if pending:
            renew = min(renew, self._config.poll_interval_s)
        await self._client.idle(renew)

    async def _run(self) -> None:
        try:
            while True:
                await self._wait_for_change()
                now = await self._counts()
                if now != self.latest:
                    self.latest = now
                    self._publish(now)
        except (ImapError, TimeoutError, OSError) as exc:
            log_event("push_ended", logging.INFO, reason=type(exc).__name__)
            self._client.close()  # the upstream failed: nothing to say goodbye to
        finally:
            self._publish(None)

    def _publish(self, item: MailboxCounts | None) -> None:
        for queue in self._listeners:
            if queue.full():
                # A slow reader only needs the newest counts (and the end marker).
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)
