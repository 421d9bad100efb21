"""Login throttling per account, per client address and per upstream (mail domain).

Kept only in this process's memory and never logged. Accounts are keyed by an HMAC
under a random per-process key, so even this table holds no address.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections import deque
from typing import TypeVar

from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import ThrottleConfig

__all__ = ["LoginThrottle"]

_HOUR = 3600.0
_MAX_BACKOFF_S = 900.0
K = TypeVar("K", bytes, str)


class LoginThrottle:
    def __init__(self, config: ThrottleConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self._config = config
        self._clock = clock
        self._salt = secrets.token_bytes(16)
        self._accounts: dict[bytes, deque[float]] = {}
        self._clients: dict[str, deque[float]] = {}
        # Per upstream set (its domain; "" for the single upstream without a domain map).
        self._upstreams: dict[str, deque[float]] = {}

    def _account_key(self, account: str) -> bytes:
        return hmac.new(self._salt, account.strip().lower().encode(), hashlib.sha256).digest()

    @staticmethod
    def _prune(events: deque[float], horizon: float) -> None:
        while events and events[0] < horizon:
            events.popleft()

    def retry_after(self, account: str, client: str, upstream: str | None) -> int:
        """Seconds to wait before another attempt may be made; 0 means go ahead."""
        now = self._clock.monotonic()
        c = self._config
        waits = [0.0]
        acc = self._accounts.get(self._account_key(account))
        if acc:
            self._prune(acc, now - _HOUR)
            n = len(acc)
            if n >= c.account_max_failures_per_hour:
                waits.append(acc[0] + _HOUR - now)
            elif n >= c.account_free_failures:
                backoff = min(_MAX_BACKOFF_S, 2.0 ** (n - c.account_free_failures))
                waits.append(acc[-1] + backoff - now)
        cli = self._clients.get(client)
        if cli:
            self._prune(cli, now - c.window_s)
            if len(cli) >= c.client_max_failures:
                waits.append(cli[0] + c.window_s - now)
        ups = self._upstreams.get(upstream) if upstream is not None else None
        if ups:
            self._prune(ups, now - c.window_s)
            if len(ups) >= c.upstream_max_failures:
                waits.append(ups[0] + c.window_s - now)
        wait = max(waits)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, account: str, client: str, upstream: str | None) -> None:
        """A failed login; `upstream` None: no upstream was asked (an unserved domain)."""
        now = self._clock.monotonic()
        self._accounts.setdefault(self._account_key(account), deque()).append(now)
        self._clients.setdefault(client, deque()).append(now)
        if upstream is not None:
            self._upstreams.setdefault(upstream, deque()).append(now)
        self._gc(now)

    def succeeded(self, account: str) -> None:
        self._accounts.pop(self._account_key(account), None)

    def _gc(self, now: float) -> None:
        # Bound memory: drop tables whose newest event left every window.
        if len(self._accounts) + len(self._clients) < 10_000:
            return
        _drop_stale(self._accounts, now - _HOUR)
        _drop_stale(self._clients, now - self._config.window_s)


def _drop_stale(table: dict[K, deque[float]], horizon: float) -> None:
    for key in [k for k, v in table.items() if not v or v[-1] < horizon]:
        del table[key]
