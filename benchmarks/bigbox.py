"""A 100,000-message INBOX: mailgate against a kept-open direct IMAP client, same run.

The harness's private Dovecot (Maildir) gets one INBOX of ``--messages`` small messages
written straight into the maildir, whose Date order differs from arrival order (most
are dated a little before they arrive, one in seven carries a date anywhere in the
mailbox's two years, as imported or restored mail does); a third reply to an earlier
message (In-Reply-To, References), and ``--hits`` of them carry a rare word in their body.
Each user's Dovecot index and cache are built before anything is timed, as a mailbox in
daily use has them. mailgate and the direct client use their own copy (hard links).

  step                  direct (benchmarks/imap_raw.py)        | through mailgate
  log in + first page   TLS + LOGIN + SELECT INBOX + UID SORT   | POST /api/session,
                        (REVERSE DATE) + UID FETCH of 50        |   GET /api/mailboxes, GET
                        summaries                               |   .../messages?limit=50
  same page again       UID SORT + UID FETCH of the same 50     | the same GET again
  deep page             UID SORT + UID FETCH of 50 at 50,000    | ...?offset=50000
  search                UID SEARCH (from/to/cc/subject/body     | ...?q=<word>
                        contain the word) + UID FETCH of hits   |
  conversations         UID THREAD REFERENCES + UID FETCH of    | GET .../conversations
                        the messages of the newest 50 threads   |   ?limit=50
  first page after      (another client appends a message with  | the first page again
    new mail            the newest date to each copy) UID SORT  |   (no target)
                        + UID FETCH of 50                       |
  search after new mail the same search again                   | the same search again
                                                                |   (no target)
  conversations after   the same THREAD + FETCH again           | the same GET again
    new mail                                                    |   (no target)

Direct and mailgate steps alternate within each round (medians of ``--rounds`` rounds;
mailgate logs in first in odd rounds). The search, the slowest and most variable step,
runs ``--searches`` times each way per round (4), each time for another word, from the
round's one session or connection, in blocks of a counterbalanced order (direct,
mailgate, mailgate, direct; odd rounds the reverse). Every sample is printed after the
table.
Memory: before the rounds, ``--sessions`` mailgate sessions each list the first and the
deep page; mailgate's RSS growth per session after the first four (the cached views of a
100,000-message selection, and the rest of a session), the same over all of them (with the
allocators' one-time high-water mark), and Dovecot's imap process RSS per session are
printed.

With ``--fts`` Dovecot has its full-text index (dovecot-fts-xapian, built for both users
with ``doveadm index`` before anything is timed; the time it took is printed), and a
second, plain Dovecot with a hard-linked copy of the same INBOX and no index answers the
direct search too in each round: the search row then reads with the index, direct and
through mailgate, against the same search without it.

    python benchmarks/bigbox.py [--messages 100000] [--rounds 3] [--sessions 12]
                               [--searches 4] [--fts] [--very-dirty-syncs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from ssl import SSLContext, create_default_context
from typing import Any, TypeVar

from harness import EMAIL, PASSWORD, Bench, dovecot_pids, rss_kb, running, user_email
from imap_raw import SUMMARY_ITEMS, RawImap, direct_login
from stats import ms, percentile, verdict
from webclient import BrowserTab, HttpFailed

from mailgate.mail.ids import decode_message_id
from tests.servers.dovecot import Dovecot

DIRECT_USER = user_email(1)
#: The searched words, each in ``--hits`` bodies only (its own sample of them): each
#: search of a round asks another, so that both sides ask every search of one process.
WORDS = (
    "zanzibarite", "quillometric", "brontoglyph", "marzipanoid",
    "thundersnood", "gazpachology", "flibbertine", "wombatique",
)  # fmt: skip
WORD = WORDS[0]  # the search asked again after new mail, and by --fts's plain Dovecot
DEEP = 50_000  # the deep page's offset (half the mailbox when it is smaller)
PAGE = 50
T = TypeVar("T")
_WORDS = (
    "meeting", "report", "budget", "quarter", "review", "draft", "project", "deadline",
    "invoice", "travel", "schedule", "agenda", "notes", "update", "proposal", "contract",
)  # fmt: skip
_NAMES = ("Alice Martin", "Bob Stone", "Dmitri Ivanov", "Eve Tanaka", "Femi Ade")


@dataclass
class Samples:
    direct: list[float] = field(default_factory=list)
    mailgate: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        return percentile(self.mailgate, 50) / percentile(self.direct, 50)


# -- the mailbox ----------------------------------------------------------------------------


def write_mailbox(bench: Bench, count: int, hits: int, seed: int = 19) -> tuple[int, float]:
    """``count`` messages straight into EMAIL's INBOX maildir (cur/, arrival order in the
    file names), hard-linked into DIRECT_USER's; returns (bytes written, seconds)."""
    started = time.perf_counter()
    dc = bench.dovecot
    rng = random.Random(seed)
    folder = dc.maildir(EMAIL) / "cur"
    twin = dc.maildir(DIRECT_USER) / "cur"
    span = 2 * 365 * 86400
    first = int(time.time()) - span
    # The other words draw from a generator of their own, so that WORD's messages and
    # everything else are the same mailbox as before there were several words.
    other = random.Random(seed + 1)
    with_word = {w: set(rng.sample(range(count), hits)) for w in WORDS[:1]}
    with_word |= {w: set(other.sample(range(count), hits)) for w in WORDS[1:]}
    refs: list[tuple[str, str]] = []  # (Message-ID, References) of recent messages
    total = 0
    host = "bigbox"
    for i in range(count):
        arrived = first + span * i // count
        if rng.random() < 1 / 7:
            sent = first + rng.random() * span  # imported or restored: anywhere
        else:
            sent = arrived - rng.random() * 7200  # a little before it arrived
        msgid = f"<big-{i}@example.test>"
        head = ""
        if refs and rng.random() < 1 / 3:
            parent_id, parent_refs = rng.choice(refs[-500:])
            chain = f"{parent_refs} {parent_id}".strip().split()[-10:]
            head = f"In-Reply-To: {parent_id}\r\nReferences: {' '.join(chain)}\r\n"
            subject = f"Re: thread {parent_id[5:-14]}"
            refs.append((msgid, " ".join(chain)))
        else:
            subject = f"thread {i}"
            refs.append((msgid, ""))
        if len(refs) > 1000:
            del refs[:500]
        name = rng.choice(_NAMES)
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(20, 120)))
        words += "".join(f" {w}" for w, chosen in with_word.items() if i in chosen)
        raw = (
            f"From: {name} <{name.split()[0].lower()}@example.test>\r\n"
            f"To: {EMAIL}\r\nSubject: {subject} {rng.choice(_WORDS)}\r\n"
            f"Date: {format_datetime(datetime.fromtimestamp(sent, UTC))}\r\n"
            f"Message-ID: {msgid}\r\n{head}"
            'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\n'
            f"{words}\r\n"
        ).encode()
        flags = "S" if i < count * 0.98 else ""
        base = f"{arrived}.M{i % 1_000_000:06d}P{i}.{host}"
        path = folder / f"{base},S={len(raw)}:2,{flags}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, raw)
            os.fchown(fd, dc.uid, dc.gid)
            os.utime(fd, (arrived, arrived))
        finally:
            os.close(fd)
        os.link(path, twin / path.name)
        total += len(raw)
    return total, time.perf_counter() - started


async def fill_index(bench: Bench, user: str) -> None:
    """Dovecot's index and cache, as in daily use: every summary item, SORT and THREAD."""
    assert bench.dovecot.port is not None
    await fill_index_at(bench.dovecot.port, bench.imap_ssl, user)


async def fill_index_at(port: int, ctx: SSLContext, user: str) -> None:
    conn = await direct_login(port, ctx, user, PASSWORD)
    await conn.command("SELECT INBOX")
    await conn.command(f"UID FETCH 1:* ({SUMMARY_ITEMS})")
    await conn.command("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (DATE)])")
    await conn.sort_newest()
    await conn.command("UID THREAD REFERENCES UTF-8 ALL")
    await conn.logout()


@dataclass
class Unindexed:
    """The plain Dovecot of ``--fts``: the same INBOX (hard links), no full-text index."""

    dovecot: Dovecot
    ctx: SSLContext

    async def open(self) -> RawImap:
        assert self.dovecot.port is not None
        conn = await direct_login(self.dovecot.port, self.ctx, EMAIL, PASSWORD)
        await conn.command("SELECT INBOX")
        return conn


@contextlib.asynccontextmanager
async def unindexed_copy(bench: Bench) -> Any:
    """Start a plain Dovecot whose EMAIL has EMAIL's INBOX of ``bench`` (hard links),
    with Dovecot's index and cache filled as for the others."""
    dc = Dovecot()
    try:
        dc.start()
        dc.add_user(EMAIL, PASSWORD)
        source = bench.dovecot.maildir(EMAIL) / "cur"
        target = dc.maildir(EMAIL) / "cur"
        for entry in os.scandir(source):
            os.link(entry.path, target / entry.name)
        copy = Unindexed(dc, create_default_context(cafile=dc.ca_file))
        assert dc.port is not None
        await fill_index_at(dc.port, copy.ctx, EMAIL)
        yield copy
    finally:
        dc.cleanup()


def build_fts(bench: Bench, users: list[str]) -> list[float]:
    """``doveadm index`` of INBOX for each user in turn; the seconds each took."""
    took = []
    for user in users:
        started = time.perf_counter()
        bench.dovecot.index(user)
        took.append(time.perf_counter() - started)
    return took


# -- the direct client --------------------------------------------------------------------


async def _sorted(conn: RawImap) -> list[int]:
    lines = await conn.lines("UID SORT (REVERSE DATE) UTF-8 ALL")
    return [int(t) for line in lines if line.startswith(b"* SORT") for t in line.split()[2:]]


async def _fetch(conn: RawImap, uids: list[int]) -> None:
    if uids:
        await conn.command(f"UID FETCH {','.join(map(str, uids))} ({SUMMARY_ITEMS})")


async def direct_first(bench: Bench) -> RawImap:
    conn = await direct_login(bench.dovecot.port, bench.imap_ssl, DIRECT_USER, PASSWORD)
    await conn.command("SELECT INBOX")
    await _fetch(conn, (await _sorted(conn))[:PAGE])
    return conn


async def direct_page(conn: RawImap, offset: int) -> list[int]:
    uids = (await _sorted(conn))[offset : offset + PAGE]
    await _fetch(conn, uids)
    return uids


def _criteria(word: str) -> str:
    return f'OR OR OR OR FROM "{word}" TO "{word}" CC "{word}" SUBJECT "{word}" BODY "{word}"'


async def direct_search(conn: RawImap, word: str = WORD) -> int:
    lines = await conn.lines(f"UID SEARCH CHARSET UTF-8 {_criteria(word)}")
    uids = [int(t) for line in lines if line.startswith(b"* SEARCH") for t in line.split()[2:]]
    await _fetch(conn, sorted(uids, reverse=True)[:PAGE])
    return len(uids)


_NUMBER = re.compile(rb"\d+")


def _thread_groups(line: bytes) -> list[list[int]]:
    """The UIDs of each top-level thread of one ``* THREAD`` line."""
    groups: list[list[int]] = []
    depth = 0
    current: list[int] = []
    for tok in re.findall(rb"\(|\)|\d+", line[len(b"* THREAD ") :]):
        if tok == b"(":
            depth += 1
        elif tok == b")":
            depth -= 1
            if depth == 0:
                groups.append(current)
                current = []
        else:
            current.append(int(tok))
    return groups


async def direct_threads(conn: RawImap) -> int:
    lines = await conn.lines("UID THREAD REFERENCES UTF-8 ALL")
    groups = [g for line in lines if line.startswith(b"* THREAD") for g in _thread_groups(line)]
    groups.sort(key=max, reverse=True)  # newest conversations first (by arrival)
    newest = groups[:PAGE]
    await _fetch(conn, sorted({u for g in newest for u in g}))
    return len(groups)


# -- through mailgate ---------------------------------------------------------------------


async def _get(tab: BrowserTab, path: str, **params: str) -> Any:
    async with tab.http.get(f"{tab.url}{path}", params=params) as r:
        if r.status != 200:
            raise HttpFailed(path, r.status)
        return await r.json()


async def mailgate_first(bench: Bench) -> BrowserTab:
    tab = BrowserTab(bench.url, bench.web_ssl, timeout=600)
    await tab.warm()
    return tab


async def mailgate_login_and_list(tab: BrowserTab) -> list[str]:
    await tab.login(EMAIL, PASSWORD)
    await tab.find_inbox()  # GET /api/mailboxes, as the UI does first
    return [m["id"] for m in await tab.list(PAGE)]


async def mailgate_page(tab: BrowserTab, offset: int) -> list[dict[str, Any]]:
    page = await _get(
        tab, f"/api/mailboxes/{tab.inbox}/messages", limit=str(PAGE), offset=str(offset)
    )
    return list(page["messages"])


async def mailgate_search(tab: BrowserTab, word: str = WORD) -> int:
    page = await _get(tab, f"/api/mailboxes/{tab.inbox}/messages", limit=str(PAGE), q=word)
    return int(page["total"])


async def mailgate_threads(tab: BrowserTab) -> int:
    page = await _get(tab, f"/api/mailboxes/{tab.inbox}/conversations", limit=str(PAGE))
    return len(page["conversations"])


# -- the run ------------------------------------------------------------------------------


async def _timed(into: list[float], step: Awaitable[T]) -> T:
    started = time.perf_counter()
    result = await step
    into.append(time.perf_counter() - started)
    return result


async def rounds(
    bench: Bench,
    args: argparse.Namespace,
    out: dict[str, Samples],
    unindexed: Unindexed | None = None,
) -> None:
    deep = min(DEEP, args.messages // 2)
    for n in range(args.rounds):
        tab = await mailgate_first(bench)
        try:
            # Which side logs in first alternates by round (the first of the two in a
            # round met a colder machine more often).
            login = out["log in + first page"]
            if n % 2 == 0:
                conn = await _timed(login.direct, direct_first(bench))
                ids = await _timed(login.mailgate, mailgate_login_and_list(tab))
            else:
                ids = await _timed(login.mailgate, mailgate_login_and_list(tab))
                conn = await _timed(login.direct, direct_first(bench))
            assert len(ids) == PAGE
            await _timed(out["same page again"].direct, direct_page(conn, 0))
            again = await _timed(out["same page again"].mailgate, mailgate_page(tab, 0))
            assert [m["id"] for m in again] == ids
            await _timed(out["deep page"].direct, direct_page(conn, deep))
            got = await _timed(out["deep page"].mailgate, mailgate_page(tab, deep))
            assert len(got) == PAGE
            await searches(conn, tab, out["search"], n, args)
            if unindexed is not None:
                plain = await unindexed.open()
                found = await _timed(out["search, no index"].direct, direct_search(plain))
                assert found == args.hits, found
                await plain.logout()
            await _timed(out["conversations"].direct, direct_threads(conn))
            if not args.no_conversations:
                await _timed(out["conversations"].mailgate, mailgate_threads(tab))
            await new_mail(bench, n)
            await _timed(out["after new mail"].direct, direct_page(conn, 0))
            got = await _timed(out["after new mail"].mailgate, mailgate_page(tab, 0))
            assert decode_message_id(got[0]["id"]).uid == (await _sorted(conn))[0]
            # The same search again: the direct client searches again; mailgate asks the
            # search of the new message alone (its kept search view, patched).
            found = await _timed(out["search after new mail"].direct, direct_search(conn))
            total = await _timed(out["search after new mail"].mailgate, mailgate_search(tab))
            assert found == total == args.hits, (found, total)
            await _timed(out["conversations after new mail"].direct, direct_threads(conn))
            if not args.no_conversations:
                await _timed(out["conversations after new mail"].mailgate, mailgate_threads(tab))
            if n == 0:
                await check_order(conn, tab, deep)
            await conn.logout()
            await tab.logout()
        finally:
            await tab.close()
        print(f"round {n + 1} done", flush=True)


async def searches(
    conn: RawImap, tab: BrowserTab, into: Samples, n: int, args: argparse.Namespace
) -> None:
    """``args.searches`` searches each way (an even number), in blocks of direct, mailgate,
    mailgate, direct (odd rounds the other way round), so a drift of the machine's speed
    during the round weighs on both sides alike. The same search varied from 2.5 to 5.5 s
    on one VM, and one search each way, direct first, read 1.18x there where twelve
    counterbalanced pairs of the same code read 1.02x (benchmarks/README.md,
    2026-12-07).

    Each side's k-th search asks WORDS[k], all from the round's one session (mailgate)
    or connection (direct). A session keeps its search's view and would answer the same
    search again from memory; asking it from fresh sessions instead charged mailgate a
    fresh Dovecot process's first search, 11 % slower than a kept process's (2,572
    against 2,305 ms, medians of 8 alternating pairs on the direct client alone)."""
    asked = {"direct": 0, "mailgate": 0}

    async def direct() -> None:
        word = WORDS[asked["direct"]]
        asked["direct"] += 1
        found = await _timed(into.direct, direct_search(conn, word))
        assert found == args.hits, (word, found)

    async def through() -> None:
        word = WORDS[asked["mailgate"]]
        asked["mailgate"] += 1
        total = await _timed(into.mailgate, mailgate_search(tab, word))
        assert total == args.hits, (word, total)

    block = (direct, through, through, direct)
    if n % 2:
        block = (through, direct, direct, through)
    for _ in range(args.searches // 2):
        for step in block:
            await step()


async def new_mail(bench: Bench, n: int) -> None:
    """Another client appends one message dated now to both copies of the INBOX."""
    raw = (
        f"From: Alice Martin <alice@example.test>\r\nTo: {EMAIL}\r\n"
        f"Subject: arrived {n}\r\nDate: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <new-{n}@example.test>\r\n\r\nnew mail {n}\r\n"
    ).encode()
    for user in (EMAIL, DIRECT_USER):
        other = await direct_login(bench.dovecot.port, bench.imap_ssl, user, PASSWORD)
        await other.append("INBOX", raw)
        await other.logout()


async def check_order(conn: RawImap, tab: BrowserTab, deep: int) -> None:
    """mailgate's newest 50 and its deep page are Dovecot's SORT, message for message."""
    order = await _sorted(conn)
    for offset in (0, deep):
        got = await mailgate_page(tab, offset)
        assert [decode_message_id(m["id"]).uid for m in got] == order[offset : offset + PAGE]


def _imap_rss_kb(bench: Bench) -> list[int]:
    """RSS of each of Dovecot's imap (mail) processes."""
    out = []
    for pid in dovecot_pids(bench.dovecot_master):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if comm == "imap":
                out.append(rss_kb(pid))
        except OSError:
            continue
    return out


# Sessions that log in before the marginal cost is measured (see `memory`).
FIRST_SESSIONS = 4


async def memory(bench: Bench, sessions: int, first: int, deep: int) -> tuple[float, float, float]:
    """(mailgate RSS growth per session over all ``sessions``, the growth per session after
    the ``first`` ones, Dovecot imap RSS per session), in KiB: each session logs in
    and lists the first and the deep page; all stay open while measured.

    What a list allocates only while it runs (the SORT reply, 590 KB of text parsed into
    100,000 numbers) raises the allocators' high-water marks, and freed memory they keep
    stays in the RSS. A first session that logs out, then the first sessions, reach that
    mark; the sessions after them show what one more session keeps. (Measured with
    tracemalloc in-process, 2026-12-06: 1.0 MiB of live Python objects per session, the
    view 415 KiB and the upstream TLS read buffer 256 KiB of it.)"""
    warm = await mailgate_first(bench)
    await mailgate_login_and_list(warm)
    await mailgate_page(warm, deep)
    await warm.logout()
    await warm.close()
    await asyncio.sleep(0.5)
    tabs = [await mailgate_first(bench) for _ in range(sessions)]
    before = rss_kb(bench.pid)
    try:
        for i, tab in enumerate(tabs):
            if i == first:
                await asyncio.sleep(0.5)
                middle = rss_kb(bench.pid)
            await mailgate_login_and_list(tab)
            await mailgate_page(tab, deep)
        await asyncio.sleep(0.5)
        after = rss_kb(bench.pid)
        imap = _imap_rss_kb(bench)
        for tab in tabs:
            await tab.logout()
    finally:
        for tab in tabs:
            await tab.close()
    average = (after - before) / sessions
    marginal = (after - middle) / (sessions - first)
    return average, marginal, sum(imap) / max(1, len(imap))


def _row(name: str, s: Samples, target: str, ok: bool | None) -> str:
    d = f"{ms(percentile(s.direct, 50)):>10}" if s.direct else f"{'-':>10}"
    m = f"{ms(percentile(s.mailgate, 50)):>10}" if s.mailgate else f"{'-':>10}"
    ratio = f"{s.ratio():6.2f}x" if s.direct and s.mailgate else "    -  "
    tail = f"  {target}: {verdict(ok)}" if ok is not None else f"  {target}"
    return f"{name:<29}{d}  {m}  {ratio}{tail}"


#: Dovecot's setting for a maildir only Dovecot changes: it then rescans cur/ when a file
#: is not where its index says, not whenever cur/'s mtime moved (deep_page_dovecot.py).
VERY_DIRTY_SYNCS = "\nmaildir_very_dirty_syncs = yes\n"


def dovecot_settings(args: argparse.Namespace) -> str:
    return VERY_DIRTY_SYNCS if args.very_dirty_syncs else ""


async def run(args: argparse.Namespace) -> int:
    names = (
        "log in + first page",
        "same page again",
        "deep page",
        "search",
        "conversations",
        "after new mail",
        "search after new mail",
        "conversations after new mail",
    )
    out = {n: Samples() for n in (*names, "search, no index")}
    first = min(FIRST_SESSIONS, args.sessions - 1)  # sessions before the marginal growth
    with running(users=2, fts=args.fts, dovecot_settings=dovecot_settings(args)) as bench:
        size, took = write_mailbox(bench, args.messages, args.hits)
        print(f"wrote {args.messages} messages ({size / 1048576:.0f} MiB) in {took:.1f} s")
        started = time.perf_counter()
        await asyncio.gather(fill_index(bench, EMAIL), fill_index(bench, DIRECT_USER))
        print(f"Dovecot's index and cache built in {time.perf_counter() - started:.1f} s")
        async with contextlib.AsyncExitStack() as stack:
            unindexed = None
            if args.fts:
                each = build_fts(bench, [EMAIL, DIRECT_USER])
                print(
                    f"full-text index (doveadm index INBOX) of {args.messages} messages built"
                    f" in {' s and '.join(f'{t:.1f}' for t in each)} s (one user, then the other)"
                )
                unindexed = await stack.enter_async_context(unindexed_copy(bench))
            # Memory first, while mailgate's process has held no big view yet (freed
            # memory it keeps for reuse would hide the growth).
            per_session, marginal, imap_per_session = await memory(
                bench, args.sessions, first, min(DEEP, args.messages // 2)
            )
            await rounds(bench, args, out, unindexed)

    fts = ", Dovecot with its full-text index (fts-xapian)" if args.fts else ""
    fts += ", maildir_very_dirty_syncs = yes" if args.very_dirty_syncs else ""
    print(
        f"\n{args.messages} messages, medians of {args.rounds} interleaved rounds"
        f" (the search: {args.searches * args.rounds} each way, counterbalanced){fts}"
    )
    print(f"{'step':<29}{'direct':>10}  {'mailgate':>10}  {'ratio':>7}")
    checks: list[bool] = []

    def ratio_row(name: str, limit: float) -> str:
        ok = out[name].ratio() <= limit
        checks.append(ok)
        return _row(name, out[name], f"<= {limit}x direct", ok)

    def absolute_row(name: str, limit_s: float) -> str:
        ok = percentile(out[name].mailgate, 50) <= limit_s
        checks.append(ok)
        return _row(name, out[name], f"<= {ms(limit_s)}", ok)

    print(ratio_row("log in + first page", 1.2))
    print(absolute_row("same page again", 0.020))
    print(absolute_row("deep page", 0.020))
    print(ratio_row("search", 1.1))
    if args.fts:
        plain = percentile(out["search, no index"].direct, 50)
        print(_row("search, no index", out["search, no index"], "direct, no FTS (info)", None))
        print(
            f"search with the index: direct {plain / percentile(out['search'].direct, 50):.0f}x,"
            f" mailgate {plain / percentile(out['search'].mailgate, 50):.0f}x faster than"
            " the direct search without it"
        )
    if args.no_conversations:
        print(_row("conversations", out["conversations"], "(not run)", None))
    else:
        print(ratio_row("conversations", 1.5))
    print(_row("after new mail", out["after new mail"], "(info)", None))
    print(_row("search after new mail", out["search after new mail"], "(info)", None))
    if not args.no_conversations:
        print(
            _row(
                "conversations after new mail", out["conversations after new mail"], "(info)", None
            )
        )
    mem_ok = marginal < 4096
    checks.append(mem_ok)
    print(
        f"\nmailgate RSS growth per session (first + deep page of {args.messages}), "
        f"sessions {first + 1}-{args.sessions}: {marginal / 1024:.2f} MiB (< 4 MB): "
        f"{verdict(mem_ok)}"
    )
    print(
        f"mailgate RSS growth per session, all {args.sessions} (with the allocators' "
        f"high-water mark): {per_session / 1024:.2f} MiB (info)"
    )
    print(f"Dovecot imap process RSS per session: {imap_per_session / 1024:.1f} MiB (info)")
    # Every sample, in the order taken: a median of three hides one slow round (in some
    # rounds a fresh Dovecot process rereads the 100,000 names of the maildir's cur/
    # inside a FETCH of old messages, 240-570 ms on either side; benchmarks/README.md,
    # and deep_page_dovecot.py for the same without mailgate).
    print("\nsamples in ms, direct | mailgate:")
    for name, s in out.items():
        if s.direct or s.mailgate:
            d = " ".join(f"{x * 1000:.0f}" for x in s.direct)
            m = " ".join(f"{x * 1000:.0f}" for x in s.mailgate)
            print(f"  {name:<29}{d} | {m}")
    return 0 if all(checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--hits", type=int, default=20, help="messages with the searched word")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--searches", type=int, default=4, help="searches each way per round (even)"
    )
    parser.add_argument(
        "--sessions", type=int, default=12, help=f"sessions for the memory row (> {FIRST_SESSIONS})"
    )
    parser.add_argument("--no-conversations", action="store_true")
    parser.add_argument(
        "--very-dirty-syncs",
        action="store_true",
        help="Dovecot with maildir_very_dirty_syncs = yes (see deep_page_dovecot.py)",
    )
    parser.add_argument(
        "--fts", action="store_true", help="Dovecot with fts-xapian, and a plain one to compare"
    )
    args = parser.parse_args()
    if not 2 <= args.searches <= len(WORDS) or args.searches % 2:
        parser.error(f"--searches must be an even number from 2 to {len(WORDS)}")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
