"""Load-generator worker processes for concurrency.py: each runs its share of sessions
(mailgate browser tabs, or direct IMAP connections) on its own event loop, so the load
generator can use every core and is not measured inside the server process.

A session loops list, open, list, open, ... (opening the newest 50 in turn), with an
optional think time before each operation, from a common start signal until the deadline.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from imap_raw import RawImap, direct_login
from webclient import BrowserTab, HttpFailed

__all__ = ["Plan", "Result", "run_workers"]


@dataclass(frozen=True)
class Plan:
    kind: str  # "mailgate" or "direct"
    users: list[str]  # one per session, in this worker
    password: str
    url: str
    web_ca: str
    imap_port: int
    imap_ca: str
    duration: float
    think: float  # mean seconds before each operation (uniform 0..2x); 0: closed loop
    seed: int


@dataclass
class Result:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"list": [], "open": []})
    completed: int = 0  # operations finished before the deadline
    requests: int = 0  # their HTTP requests (an open with HTML is two)
    errors: dict[str, int] = field(default_factory=dict)
    setup_errors: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0

    def merge(self, other: Result) -> None:
        for op, values in other.latencies.items():
            self.latencies.setdefault(op, []).extend(values)
        self.completed += other.completed
        self.requests += other.requests
        for mine, theirs in ((self.errors, other.errors), (self.setup_errors, other.setup_errors)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        self.cpu_s += other.cpu_s


def _error_key(exc: BaseException) -> str:
    if isinstance(exc, HttpFailed):
        return str(exc)
    return type(exc).__name__


class _Session:
    """One simulated user: a browser tab on mailgate, or a direct IMAP connection."""

    def __init__(self, plan: Plan, user: str) -> None:
        self.plan = plan
        self.user = user
        self.tab: BrowserTab | None = None
        self.conn: RawImap | None = None
        self.ids: list[Any] = []
        self.html: list[bool] = []  # the summaries' has_html hints

    async def start(self, web_ctx: ssl.SSLContext, imap_ctx: ssl.SSLContext) -> None:
        if self.plan.kind == "mailgate":
            self.tab = BrowserTab(self.plan.url, web_ctx, timeout=30)
            await self.tab.warm()
            await self.tab.login(self.user, self.plan.password)
            await self.tab.find_inbox()
            summaries = await self.tab.list()
            self.ids = [m["id"] for m in summaries]
            self.html = [bool(m["has_html"]) for m in summaries]
        else:
            self.conn = await direct_login(
                self.plan.imap_port, imap_ctx, self.user, self.plan.password
            )
            await self.conn.command("SELECT INBOX")
            self.ids = await self.conn.sort_newest(50)

    async def op(self, name: str, k: int) -> int:
        """Run one operation; returns the HTTP requests it took."""
        if self.tab is not None:
            if name == "list":
                await self.tab.list(parse=False)
                return 1
            i = k % len(self.ids)
            message = await self.tab.open(self.ids[i], has_html=self.html[i])
            return 2 if message["has_html"] else 1
        assert self.conn is not None
        if name == "list":
            await self.conn.list_newest()
        else:
            await self.conn.open(self.ids[k % len(self.ids)])
        return 0

    async def stop(self) -> None:
        try:
            if self.tab is not None:
                await self.tab.logout()
            elif self.conn is not None:
                await self.conn.logout()
        except Exception:
            pass  # teardown is not measured
        finally:
            if self.tab is not None:
                await self.tab.close()
            elif self.conn is not None:
                self.conn.close()


async def _loop(
    session: _Session, start: float, deadline: float, rng: random.Random, out: Result
) -> None:
    think = session.plan.think
    k = rng.randrange(50)
    await asyncio.sleep(max(0.0, start - time.monotonic()) + rng.uniform(0, think))
    while True:
        for name in ("list", "open"):
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))
            if time.monotonic() >= deadline:
                return
            began = time.perf_counter()
            try:
                requests = await session.op(name, k)
            except Exception as exc:
                key = f"{name}: {_error_key(exc)}"
                out.errors[key] = out.errors.get(key, 0) + 1
                continue
            finally:
                if name == "open":
                    k += 1
            out.latencies[name].append(time.perf_counter() - began)
            if time.monotonic() < deadline:  # (after the await: sessions share `out`)
                out.completed += 1
                out.requests += requests


async def _work(plan: Plan, ready: Any, go: Any) -> Result:
    web_ctx = ssl.create_default_context(cafile=plan.web_ca)
    imap_ctx = ssl.create_default_context(cafile=plan.imap_ca)
    out = Result()
    sessions = [_Session(plan, user) for user in plan.users]
    gate = asyncio.Semaphore(8)

    async def start(session: _Session) -> _Session | None:
        async with gate:
            try:
                await session.start(web_ctx, imap_ctx)
                return session
            except Exception as exc:
                key = f"setup: {_error_key(exc)}"
                out.setup_errors[key] = out.setup_errors.get(key, 0) + 1
                await session.stop()
                return None

    live = [s for s in await asyncio.gather(*(start(s) for s in sessions)) if s is not None]
    ready.put(len(live))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, go.wait)
    began_cpu = time.process_time()
    start_at = time.monotonic()
    deadline = start_at + plan.duration
    rng = random.Random(plan.seed)
    await asyncio.gather(
        *(_loop(s, start_at, deadline, random.Random(rng.random()), out) for s in live)
    )
    out.cpu_s = time.process_time() - began_cpu

    async def stop(session: _Session) -> None:
        async with gate:
            await session.stop()

    await asyncio.gather(*(stop(s) for s in live))
    return out


def _worker(plan: Plan, ready: Any, go: Any, results: Any) -> None:
    results.put(asyncio.run(_work(plan, ready, go)))


def run_workers(plans: list[Plan], on_start: Any, on_stop: Any) -> Result:
    """Start one process per plan, wait until every session is set up, call
    ``on_start()``, run, call ``on_stop()`` when the deadline passed; merged results."""
    ctx = mp.get_context("fork")  # the parent runs no event loop while forking
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_worker, args=(p, ready, go, results)) for p in plans]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=600)
    on_start()
    go.set()
    time.sleep(plans[0].duration)
    on_stop()
    merged = Result()
    for _ in procs:
        merged.merge(results.get(timeout=600))
    for proc in procs:
        proc.join(60)
    return merged
