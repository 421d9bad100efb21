"""bigbox.py's rounds with the direct client alone: what Dovecot charges a deep page.

bigbox.py's deep page is at times 200-570 ms on both sides, where mailgate's own part is
7-17 ms. This script takes mailgate out: one user, the same 100,000-message INBOX
(bigbox.write_mailbox, index and cache built the same way), and per round the direct
client's steps in bigbox.py's order: log in + first page, the same page, the deep page
(its UID SORT and its UID FETCH of 50 summaries timed apart), another client's APPEND of
one new message, the first page again and the search. Each round is a fresh LOGIN, so a
fresh Dovecot process, as in bigbox.py.

What it showed on 2026-12-07 (2 cores, kernel 6.18, Debian 12's Dovecot): the deep
page's FETCH took 4 ms in round 1 and 214-284 ms in every later round (this script and
its prototype), the SORT before it 108-141 ms in all. In variants of the round (not this
script), without the search after the APPEND, or with the message appended between two
fresh processes that only searched, the FETCH stayed at 2-5 ms. The extra time is
Dovecot's own, with no mailgate anywhere: in a fresh process, after new mail, in a
maildir of 100,000 names. With ``--very-dirty-syncs`` (Dovecot's
``maildir_very_dirty_syncs = yes``: rescan cur/ only when a file is not where the index
says, not whenever cur/'s mtime moved; for a maildir nothing but Dovecot changes) the
same FETCH took 4-14 ms in every round of three runs, against 209-255 ms in a
default run: it is the mtime-driven rescan of cur/.

    python benchmarks/deep_page_dovecot.py [--messages 100000] [--rounds 5]
                                           [--very-dirty-syncs]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from bigbox import (
    DIRECT_USER,
    PAGE,
    _fetch,
    _sorted,
    direct_first,
    direct_page,
    direct_search,
    dovecot_settings,
    fill_index,
    new_mail,
    write_mailbox,
)
from harness import running

T = TypeVar("T")


async def _timed(into: dict[str, float], name: str, step: Awaitable[T]) -> T:
    started = time.perf_counter()
    result = await step
    into[name] = (time.perf_counter() - started) * 1000
    return result


async def run(args: argparse.Namespace) -> int:
    deep = args.messages // 2
    with running(users=2, dovecot_settings=dovecot_settings(args)) as bench:
        write_mailbox(bench, args.messages, args.hits)
        await fill_index(bench, DIRECT_USER)
        steps = ("log in + first page", "same page", "deep SORT", "deep FETCH", "after new mail")
        print("round  " + "  ".join(f"{s:>19}" for s in steps) + "  (ms)")
        fetches: list[float] = []
        for n in range(args.rounds):
            took: dict[str, float] = {}
            conn = await _timed(took, steps[0], direct_first(bench))
            await _timed(took, steps[1], direct_page(conn, 0))
            order = await _timed(took, steps[2], _sorted(conn))
            await _timed(took, steps[3], _fetch(conn, order[deep : deep + PAGE]))
            await new_mail(bench, n)
            await _timed(took, steps[4], direct_page(conn, 0))
            assert await direct_search(conn) == args.hits
            await conn.logout()
            fetches.append(took[steps[3]])
            print(f"{n + 1:>5}  " + "  ".join(f"{took[s]:>19.0f}" for s in steps), flush=True)
    print(
        f"deep FETCH of {PAGE}: round 1 {fetches[0]:.0f} ms; later rounds "
        + ", ".join(f"{f:.0f}" for f in fetches[1:])
        + " ms (mailgate's deep page target is 20 ms)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--hits", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--very-dirty-syncs", action="store_true")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
