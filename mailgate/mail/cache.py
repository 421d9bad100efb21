"""Per-session caches of mail data (opened messages). Memory only, bounded, and wiped
with the session: cached mail is session data."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["SessionCache"]

V = TypeVar("V")


class SessionCache(Generic[V]):
    """A few entries per session (least recently used go first), for a bounded number of
    sessions."""

    def __init__(self, per_session: int = 8, max_sessions: int = 10_000):
        self._per_session = per_session
        self._max_sessions = max_sessions
        self._data: OrderedDict[str, OrderedDict[str, V]] = OrderedDict()

    def get(self, owner: str, key: str) -> V | None:
        entries = self._data.get(owner)
        if entries is None or key not in entries:
            return None
        entries.move_to_end(key)
        return entries[key]

    def put(self, owner: str, key: str, value: V) -> None:
        entries = self._data.setdefault(owner, OrderedDict())
        self._data.move_to_end(owner)
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self._per_session:
            entries.popitem(last=False)
        while len(self._data) > self._max_sessions:
            self._data.popitem(last=False)

    def drop(self, owner: str, key: str | None = None) -> None:
        if key is None:
            self._data.pop(owner, None)
        elif owner in self._data:
            self._data[owner].pop(key, None)
