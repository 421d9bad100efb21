"""ReadingService.open shares an open under way between requests for the same message of
the same session: who joins, who marks \\Seen, what happens when the first request goes
away (the IMAP and worker steps are stubbed here; tests/integration/test_shared_open.py
does it on Dovecot)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mailgate.errors import NotFound
from mailgate.mail.ids import decode_message_id, message_id
from mailgate.mail.reading.service import ReadingService

REF = decode_message_id(message_id("INBOX", 7, 42))
OTHER = decode_message_id(message_id("INBOX", 7, 43))


class Stubbed(ReadingService):
    def __init__(self) -> None:
        super().__init__(pool=None, workers=None)  # type: ignore[arg-type]
        self.fetches: list[tuple[str, bool]] = []
        self.marked: list[Any] = []
        self.gate = asyncio.Event()
        self.error: Exception | None = None

    async def _fetch_and_render(self, lookup: str, credentials: Any, ref: Any, peek: bool) -> Any:
        self.fetches.append((ref.id, peek))
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        opened = object()
        self.cache.put(lookup, ref.id, opened)  # type: ignore[arg-type]
        return opened

    async def _mark_seen(self, lookup: str, credentials: Any, opened: Any) -> None:
        self.marked.append(opened)


def _open(svc: Stubbed, *, peek: bool, lookup: str = "s1", ref: Any = REF) -> asyncio.Task[Any]:
    return asyncio.ensure_future(svc.open(lookup, lambda: None, ref, peek=peek))  # type: ignore[arg-type]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_peek_joins_an_open_and_nothing_is_marked_again() -> None:
    svc = Stubbed()
    first = _open(svc, peek=False)
    await _settle()
    second = _open(svc, peek=True)
    await _settle()
    svc.gate.set()
    a, b = await asyncio.gather(first, second)
    assert a is b and svc.fetches == [(REF.id, False)] and svc.marked == []
    assert not svc._opening


async def test_an_open_joining_a_peek_marks_the_message_seen() -> None:
    svc = Stubbed()
    first = _open(svc, peek=True)
    await _settle()
    second = _open(svc, peek=False)
    await _settle()
    svc.gate.set()
    a, b = await asyncio.gather(first, second)
    assert a is b and svc.fetches == [(REF.id, True)] and svc.marked == [a]


async def test_other_messages_and_other_sessions_are_not_shared() -> None:
    svc = Stubbed()
    tasks = [
        _open(svc, peek=True),
        _open(svc, peek=True, ref=OTHER),
        _open(svc, peek=True, lookup="s2"),
    ]
    await _settle()
    svc.gate.set()
    await asyncio.gather(*tasks)
    assert len(svc.fetches) == 3


async def test_an_error_reaches_every_request_that_shared_the_open() -> None:
    svc = Stubbed()
    svc.error = NotFound("gone")
    first = _open(svc, peek=False)
    await _settle()
    second = _open(svc, peek=True)
    await _settle()
    svc.gate.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert all(isinstance(r, NotFound) for r in results)
    assert len(svc.fetches) == 1 and not svc._opening


async def test_when_the_first_request_goes_away_the_other_opens_it_itself() -> None:
    svc = Stubbed()
    first = _open(svc, peek=False)
    await _settle()
    second = _open(svc, peek=True)
    await _settle()
    first.cancel()
    await _settle()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert svc.fetches == [(REF.id, False), (REF.id, True)]
    svc.gate.set()
    assert await second is not None and not svc._opening


async def test_a_joining_request_that_goes_away_leaves_the_open_running() -> None:
    svc = Stubbed()
    first = _open(svc, peek=False)
    await _settle()
    second = _open(svc, peek=True)
    await _settle()
    second.cancel()
    await _settle()
    svc.gate.set()
    assert await first is not None and svc.fetches == [(REF.id, False)]
