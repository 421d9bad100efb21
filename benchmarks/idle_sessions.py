"""Memory per idle session: log in 1,000 sessions, let their IMAP connections close
(`imap.idle_close_s` = 1 s), and divide the mailgate process's RSS growth by 1,000.

The HTTP connections used for the logins are closed too (an idle browser tab's keep-alive
connection times out), so what remains is the session itself: its store record, its
pool slot and whatever features keep per session.

Logging in 1,000 sessions at full speed keeps a few hundred upstream TLS connections open
at once (each until it has been idle for 1 s), and the allocator keeps that high-water
mark after they close (asyncio alone gives every TLS connection a 256 KiB read buffer).
That is the cost of concurrently *active* connections, not of idle sessions, so a warm-up
burst of the same size is run first and logged out again; the measured batch then starts
from the same allocator state. The warm-up's growth is printed too. `--browse` also lists
the INBOX and opens one message per session before it goes idle (the opened message stays
in the session's cache). Target (issue 8): < 50 KB per idle session.

    python benchmarks/idle_sessions.py [--sessions 1000] [--browse]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from harness import PASSWORD, Bench, rss_kb, running
from seed import build_corpus, seed_mailbox
from stats import verdict
from webclient import BrowserTab
from yarl import URL

COOKIE = "__Host-mailgate"
USERS = 10


def upstream_connections(dovecot_port: int) -> int:
    """Established TCP connections to Dovecot's port (only mailgate makes them here)."""
    wanted = f":{dovecot_port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[2].endswith(wanted) and fields[3] == "01":
                count += 1
    return count


async def _wait_idle(bench: Bench, timeout: float = 120) -> float:
    """Until mailgate holds no IMAP connection; returns how long that took."""
    started = time.monotonic()
    assert bench.dovecot.port is not None
    while upstream_connections(bench.dovecot.port):
        if time.monotonic() - started > timeout:
            raise TimeoutError("upstream connections did not close")
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.0)  # let the last closes and the reaper's pass finish
    return time.monotonic() - started


@dataclass(frozen=True)
class LoggedIn:
    cookie: str
    csrf: str


async def _login_many(bench: Bench, count: int, browse: bool) -> list[LoggedIn]:
    """Log in ``count`` sessions over at most 20 HTTP connections at a time."""
    sessions: list[LoggedIn] = []
    gate = asyncio.Semaphore(20)

    async def one(i: int) -> None:
        async with gate:
            tab = BrowserTab(bench.url, bench.web_ssl)
            try:
                await tab.login(bench.users[i % len(bench.users)], PASSWORD)
                if browse:
                    await tab.find_inbox()
                    messages = await tab.list()
                    await tab.open(messages[0]["id"])
                jar = tab.http.cookie_jar.filter_cookies(URL(bench.url))
                sessions.append(LoggedIn(jar[COOKIE].value, tab.csrf))
            finally:
                await tab.close()

    await asyncio.gather(*(one(i) for i in range(count)))
    return sessions


async def _each(bench: Bench, sessions: list[LoggedIn], method: str) -> int:
    """GET (alive?) or DELETE (log out) /api/session for each; how many answered 2xx."""
    connector = aiohttp.TCPConnector(ssl=bench.web_ssl, limit=20)
    answered = 0
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:

        async def one(s: LoggedIn) -> None:
            nonlocal answered
            headers = {"Cookie": f"{COOKIE}={s.cookie}"}
            if method == "DELETE":
                headers |= {"Origin": bench.url, "X-CSRF-Token": s.csrf}
            async with http.request(method, f"{bench.url}/api/session", headers=headers) as r:
                await r.read()
                answered += 200 <= r.status < 300

        await asyncio.gather(*(one(s) for s in sessions))
    return answered


async def run(args: argparse.Namespace) -> int:
    env = {"MAILGATE_IMAP_IDLE_CLOSE_S": "1", "MAILGATE_SESSION_REAP_INTERVAL_S": "1"}
    browsed = " and browsed" if args.browse else ""
    with running(users=USERS, **env) as bench:
        if args.browse:
            corpus = build_corpus(200)
            for user in bench.users:
                seed_mailbox(bench.dovecot, user, corpus)
        start_rss = rss_kb(bench.pid)
        warm = await _login_many(bench, args.sessions, args.browse)
        await _wait_idle(bench)
        assert await _each(bench, warm, "DELETE") == args.sessions
        await _wait_idle(bench)
        before = rss_kb(bench.pid)
        print(
            f"warm-up: {args.sessions} sessions logged in{browsed}, idle, logged out: mailgate "
            f"RSS {start_rss / 1024:.1f} -> {before / 1024:.1f} MiB (allocator high-water)"
        )
        started = time.perf_counter()
        idle = await _login_many(bench, args.sessions, args.browse)
        logged_in = time.perf_counter() - started
        settle = await _wait_idle(bench)
        after = rss_kb(bench.pid)
        alive = await _each(bench, idle, "GET")
    print(
        f"measured: {args.sessions} sessions logged in{browsed} in {logged_in:.1f} s; their "
        f"upstream connections all closed {settle:.1f} s later; mailgate RSS "
        f"{before / 1024:.1f} -> {after / 1024:.1f} MiB"
    )
    print(f"sessions still alive afterwards: {alive}/{args.sessions}")
    per_session = (after - before) * 1.024 / args.sessions  # /proc counts KiB; target in KB
    ok = per_session < 50 and alive == args.sessions
    print(f"memory per idle session: {per_session:.1f} KB (< 50 KB): {verdict(ok)}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--browse", action="store_true")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
