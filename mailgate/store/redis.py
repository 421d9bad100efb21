"""Redis session store, for several instances behind a load balancer.

Keys are `mailgate:s:<lookup>` (the lookup is SHA-256 of the session id, never the id)
and values are SessionRecord bytes: timings plus AEAD ciphertext under the cookie's key.
Redis expires each key at the earlier of the idle and absolute deadlines, so an idle
session disappears on every instance at once. `expired()` reports the sessions this
instance has served whose key is gone (expired, or logged out elsewhere), so the reaper
still closes their IMAP connections and runs their wipe hooks here.
Any Redis failure surfaces as StoreError (503), never as a silent logout.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast

import redis
import redis.asyncio as aioredis
import redis.sentinel
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff

from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import StoreConfig
from mailgate.store.interface import SessionRecord, StoreError

__all__ = [
    "REDIS_ERRORS",
    "SESSION_PREFIX",
    "RedisBacked",
    "RedisFlowStore",
    "RedisStore",
    "RedisTarget",
    "connect",
    "session_key",
    "sync_client",
]

SESSION_PREFIX = "mailgate:s:"
# redis-py wraps socket trouble in its own errors; OSError covers what slips through.
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
_TIMEOUT_S = 2.0


# A URL, or the whole `[store]` section (URL or Sentinel, credentials, TLS, WAIT).
RedisTarget = str | StoreConfig


def _settings(target: RedisTarget) -> StoreConfig:
    return StoreConfig(backend="redis", redis_url=target) if isinstance(target, str) else target


def _sentinel_addresses(store: StoreConfig) -> list[tuple[str, int]]:
    out = []
    for address in store.sentinels:
        host, _, port = address.rpartition(":")
        out.append((host.strip("[]"), int(port)))
    return out


def _auth(username: str, password: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if username:
        kwargs["username"] = username
    if password:
        kwargs["password"] = password
    return kwargs


def _tls(store: StoreConfig) -> dict[str, Any]:
    if not store.redis_tls:
        return {}
    kwargs: dict[str, Any] = {"ssl": True, "ssl_cert_reqs": "required"}
    if store.redis_ca_file:
        kwargs["ssl_ca_certs"] = store.redis_ca_file
    return kwargs


def connect(target: RedisTarget) -> aioredis.Redis:
    """An asyncio client for a `redis://` / `rediss://` URL, or for the primary that
    Redis Sentinel names (asked again at every reconnect, so a failover is followed).

    Short timeouts and few retries: during an outage or a failover a request should get
    its 503 quickly rather than hang; the pool reconnects by itself once a primary answers.
    """
    store = _settings(target)
    common: dict[str, Any] = {
        "socket_connect_timeout": _TIMEOUT_S,
        "socket_timeout": _TIMEOUT_S,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        "health_check_interval": 30,
        **_auth(store.redis_username, store.redis_password),
        **_tls(store),
    }
    if store.sentinels:
        sentinel = Sentinel(
            _sentinel_addresses(store),
            sentinel_kwargs={
                "socket_connect_timeout": _TIMEOUT_S,
                "socket_timeout": _TIMEOUT_S,
                **_auth(store.sentinel_username, store.sentinel_password),
                **_tls(store),
            },
            **common,
        )
        primary = sentinel.master_for(store.sentinel_service, redis_class=aioredis.Redis)
        return cast(aioredis.Redis, primary)
    return aioredis.from_url(store.redis_url, **common)


def sync_client(target: RedisTarget) -> redis.Redis:
    """A blocking client, used only by the test hooks (`dump()`)."""
    store = _settings(target)
    common: dict[str, Any] = {
        "socket_connect_timeout": _TIMEOUT_S,
        "socket_timeout": _TIMEOUT_S,
        **_auth(store.redis_username, store.redis_password),
        **_tls(store),
    }
    if store.sentinels:
        sentinel = redis.sentinel.Sentinel(
            _sentinel_addresses(store),
            sentinel_kwargs={
                **_auth(store.sentinel_username, store.sentinel_password),
                **_tls(store),
            },
            **common,
        )
        return cast(redis.Redis, sentinel.master_for(store.sentinel_service))
    return redis.Redis.from_url(store.redis_url, **common)


def session_key(lookup: str) -> str:
    return SESSION_PREFIX + lookup


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisBacked:
    """Plumbing shared by the Redis backends: one asyncio client whose failures become
    one exception, closing, and a dump of the backend's keys for at-rest tests."""

    prefix = ""

    def __init__(self, target: RedisTarget) -> None:
        self._target = target
        self._redis = connect(target)
        settings = _settings(target)
        self._acks = settings.min_replica_acks
        self._ack_timeout_ms = settings.replica_ack_timeout_ms

    def _failure(self, exc: BaseException) -> Exception:
        return StoreError(type(exc).__name__)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._redis, method)(*args, **kwargs)
        except REDIS_ERRORS as exc:
            raise self._failure(exc) from None

    async def _acked(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A write the caller is about to acknowledge: with `min_replica_acks`, followed
        by WAIT on the same connection, so it returns only once that many replicas hold
        it (and, the write being this connection's last, everything written before it).
        Too few replicas in time: the store's 503, never an acknowledgement."""
        if not self._acks:
            return await self._call(method, *args, **kwargs)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                getattr(pipe, method)(*args, **kwargs)
                pipe.wait(self._acks, self._ack_timeout_ms)
                result, replicas = await pipe.execute()
        except REDIS_ERRORS as exc:
            raise self._failure(exc) from None
        if replicas < self._acks:
            raise self._failure(redis.ReadOnlyError("too few replicas acknowledged"))
        return result

    async def close(self) -> None:
        with contextlib.suppress(*REDIS_ERRORS):
            await self._redis.aclose()

    def dump(self) -> bytes:
        """Every key under `prefix` with its raw value (blocking; for at-rest tests)."""
        client = sync_client(self._target)
        try:
            out = []
            for key in client.scan_iter(match=self.prefix + "*"):
                if client.type(key) == b"hash":
                    value = repr(client.hgetall(key)).encode()
                else:
                    raw = client.get(key)  # bytes (no decode_responses), or None if gone
                    value = raw if isinstance(raw, bytes) else b""
                out.append(key + b" " + value)
            return b"\n".join(out)
        finally:
            client.close()


class RedisStore(RedisBacked):
    """SessionStore on Redis; TTL = the record's remaining life, refreshed on activity."""

    prefix = SESSION_PREFIX

    def __init__(self, target: RedisTarget, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(target)
        self._clock = clock
        # Sessions this instance has seen -> their absolute deadline (for expired()).
        self._known: dict[str, float] = {}

    async def create(self, lookup: str, record: SessionRecord) -> None:
        ttl = record.ttl(self._clock.now())
        await self._acked("set", session_key(lookup), record.to_bytes(), px=_ms(ttl))
        self._known[lookup] = record.absolute_deadline

    async def get(self, lookup: str) -> SessionRecord | None:
        raw = await self._call("get", session_key(lookup))
        if raw is None:
            return None
        record = SessionRecord.from_bytes(raw)
        if record.expiry_reason(self._clock.now()):
            return None
        self._known[lookup] = record.absolute_deadline
        return record

    async def touch(self, lookup: str, now: float) -> None:
        raw = await self._call("get", session_key(lookup))
        if raw is None:
            return
        record = SessionRecord.from_bytes(raw)
        if record.expiry_reason(now):
            return
        record.last_seen = now
        # ttl() stops at the absolute deadline; XX so a logout elsewhere in between
        # is not undone by this write.
        await self._call(
            "set", session_key(lookup), record.to_bytes(), px=_ms(record.ttl(now)), xx=True
        )

    async def reseal(self, lookup: str, sealed: bytes) -> bool:
        raw = await self._call("get", session_key(lookup))
        if raw is None:
            return False
        record = SessionRecord.from_bytes(raw)
        now = self._clock.now()
        if record.expiry_reason(now):
            return False
        record.sealed = sealed
        # XX: a logout elsewhere in between is not undone by this write.
        return bool(
            await self._call(
                "set", session_key(lookup), record.to_bytes(), px=_ms(record.ttl(now)), xx=True
            )
        )

    async def delete(self, lookup: str) -> bool:
        existed = bool(await self._call("delete", session_key(lookup)))
        self._known.pop(lookup, None)
        return existed

    async def expired(self, now: float) -> list[tuple[str, str]]:
        """Sessions seen here whose key Redis has dropped; Redis itself needs no sweep."""
        lookups = list(self._known)
        if not lookups:
            return []
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for lookup in lookups:
                    pipe.exists(session_key(lookup))
                present = await pipe.execute()
        except REDIS_ERRORS as exc:
            raise StoreError(type(exc).__name__) from None
        gone = []
        for lookup, exists in zip(lookups, present, strict=True):
            if not exists:
                deadline = self._known.pop(lookup, now)
                gone.append((lookup, "absolute" if now >= deadline else "idle"))
        return gone

    async def lookups(self) -> list[str]:
        keys = await self._scan(SESSION_PREFIX + "*")
        return [k.decode().removeprefix(SESSION_PREFIX) for k in keys]

    async def _scan(self, pattern: str) -> list[bytes]:
        try:
            return [k async for k in self._redis.scan_iter(match=pattern, count=500)]
        except REDIS_ERRORS as exc:
            raise StoreError(type(exc).__name__) from None

    async def clear(self) -> None:
        keys = await self._scan(SESSION_PREFIX + "*")
        if keys:
            await self._call("delete", *keys)

    async def ping(self) -> None:
        await self._call("ping")


class RedisFlowStore(RedisBacked):
    """Sign-in flows (mailgate.store.flows): SET with an expiry, then GETDEL, so a flow is
    read at most once, by whichever instance the provider's redirect reaches."""

    prefix = "mailgate:oidc:"

    async def put(self, key: bytes, sealed: bytes, ttl_s: float) -> None:
        await self._acked("set", self.prefix + key.hex(), sealed, px=_ms(ttl_s))

    async def take(self, key: bytes) -> bytes | None:
        value = await self._call("getdel", self.prefix + key.hex())
        if value is not None and not isinstance(value, bytes):
            raise StoreError("unexpected_value")
        return value
