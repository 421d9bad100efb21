"""Address suggestions from the account's own mail, kept only in this process's memory for
the session: the senders of the newest messages in INBOX and the recipients of the newest
in Sent, read from their envelopes once per session (on the first suggestion asked for)
and dropped when the session is wiped or its IMAP connection is closed for idleness.
Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailgate.mail.imap.client import MailClient, Summary

__all__ = ["Correspondent", "CorrespondentsService", "learn"]

#: How many of the newest messages of each mailbox are read.
NEWEST = 300
#: The most correspondents one session keeps (the most frequent win).
KEEP_MAX = 2000

Learned = dict[str, "Correspondent"]
#: Runs one operation on the session's IMAP connection (ImapPool.run, bound to a session).
Runner = Callable[[Callable[[MailClient], Awaitable[Learned]]], Awaitable[Learned]]


@dataclass(frozen=True, slots=True)
class Correspondent:
    name: str
    email: str
    count: int

    def matches(self, query: str) -> bool:
        q = query.casefold()
        return q in self.email.casefold() or q in self.name.casefold()


def learn(inbox: list[Summary], sent: list[Summary], own: str) -> dict[str, Correspondent]:
    """Senders of ``inbox`` and recipients of ``sent``, counted; never the account itself."""
    found: dict[str, Correspondent] = {}
    own_key = own.casefold()
    groups = [s.envelope.from_ for s in inbox]
    groups += [s.envelope.to + s.envelope.cc + s.envelope.bcc for s in sent]
    for addresses in groups:
        for address in addresses:
            email = (address.get("email") or "").strip()
            if "@" not in email or email.casefold() == own_key:
                continue
            name = (address.get("name") or "").strip()
            key = email.casefold()
            seen = found.get(key)
            count = seen.count + 1 if seen else 1
            found[key] = Correspondent(name or (seen.name if seen else ""), email, count)
    if len(found) > KEEP_MAX:
        kept = sorted(found.values(), key=lambda c: -c.count)[:KEEP_MAX]
        found = {c.email.casefold(): c for c in kept}
    return found


class CorrespondentsService:
    """Per-session, in-memory correspondents; `forget` is a session wipe hook."""

    def __init__(self) -> None:
        self._known: dict[str, dict[str, Correspondent]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def of_session(
        self,
        key: str,
        own: str,
        run: Runner,
    ) -> list[Correspondent]:
        known = self._known.get(key)
        if known is None:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                known = self._known.get(key)
                if known is None:
                    known = await run(lambda client: _read(client, own))
                    if key in self._locks:  # not wiped meanwhile
                        self._known[key] = known
        return list(known.values())

    def forget(self, key: str) -> None:
        self._known.pop(key, None)
        self._locks.pop(key, None)

    def session_count(self) -> int:
        return len(self._known)


async def _read(client: MailClient, own: str) -> dict[str, Correspondent]:
    boxes = await client.mailboxes()
    inbox_path = next((b.path for b in boxes if b.role == "inbox"), None)
    sent_path = next((b.path for b in boxes if b.role == "sent"), None)
    inbox: list[Summary] = []
    sent: list[Summary] = []
    if inbox_path is not None:
        inbox = (await client.list_page(inbox_path, limit=NEWEST)).summaries
    if sent_path is not None:
        sent = (await client.list_page(sent_path, limit=NEWEST)).summaries
    return learn(inbox, sent, own)
