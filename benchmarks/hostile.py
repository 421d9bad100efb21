"""A second account's list latency while hostile messages are opened (issue 15).

One account's INBOX holds the hostile messages of tests/integration/hostile_mail.py (deep
HTML, deep tables, 3,000-deep multipart, 10,000 parts, 20,000 header lines, 20,000 encoded
words, 30,000 recipients, 500-deep message/rfc822, 3 MB single-line HTML). A second
account lists its 50 newest messages and opens one of them in a loop (a 20 ms pause
after each pair; it goes round the 50, so every open is rendered: a session keeps only
its last 8) while:

  baseline       nothing else happens (the figure to compare with)
  one at a time  the hostile messages are opened (JSON + body.html) one after another,
                 each round in a fresh session (nothing cached)
  all at once    all of them at the same moment, each from its own session

Printed: the bystander's list and open p50/p99/worst per phase (an open needs a reading
worker, as the hostile messages do), and the RSS growth of the mailgate process and of its
reading workers. Targets, for lists and opens alike: p99 < 300 ms, worst < 1 s; RSS <
512 MiB.

    python benchmarks/hostile.py [--rounds 3]
    python benchmarks/hostile.py --inline-bound [--inline-size 8192]  # in-process cost
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import PASSWORD, Bench, rss_kb, running, user_email
from stats import ms, percentile, verdict
from webclient import BrowserTab

from tests.integration.hostile_mail import HOSTILE
from tests.integration.mailfactory import html_message, plain_message

P99_TARGET, WORST_TARGET, RSS_TARGET_KB = 0.300, 1.0, 512 * 1024


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def _rss_with_workers(pid: int) -> tuple[int, int]:
    workers = 0
    for child in _children(pid):
        with contextlib.suppress(OSError, RuntimeError):  # gone meanwhile
            workers += rss_kb(child)
    return rss_kb(pid), workers


async def _tab(bench: Bench, user: str) -> BrowserTab:
    tab = BrowserTab(bench.url, bench.web_ssl)
    await tab.warm()
    await tab.login(user, PASSWORD)
    await tab.find_inbox()
    return tab


async def _bystander(bench: Bench, stop: asyncio.Event, samples: dict[str, list[float]]) -> None:
    tab = await _tab(bench, user_email(0))
    try:
        ids = [m["id"] for m in await tab.list(50)]
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            await tab.list(50, parse=False)
            samples["list"].append(time.perf_counter() - started)
            started = time.perf_counter()
            opened = await tab.open(ids[n % len(ids)])
            samples["open"].append(time.perf_counter() - started)
            assert opened["id"] == ids[n % len(ids)]
            n += 1
            await asyncio.sleep(0.02)
    finally:
        await tab.close()


async def _one_at_a_time(bench: Bench, rounds: int) -> float:
    worst = 0.0
    for _ in range(rounds):
        tab = await _tab(bench, user_email(1))
        try:
            for summary in await tab.list(50):
                started = time.perf_counter()
                message = await tab.open(summary["id"])
                worst = max(worst, time.perf_counter() - started)
                assert message["id"] == summary["id"]
        finally:
            await tab.close()
    return worst


async def _all_at_once(bench: Bench, rounds: int) -> float:
    worst = 0.0
    for _ in range(rounds):
        tabs = [await _tab(bench, user_email(1)) for _ in HOSTILE]
        try:
            ids = [m["id"] for m in await tabs[0].list(50)]

            async def one(tab: BrowserTab, message_id: str) -> float:
                started = time.perf_counter()
                await tab.open(message_id)
                return time.perf_counter() - started

            times = await asyncio.gather(*(one(t, m) for t, m in zip(tabs, ids, strict=True)))
            worst = max(worst, *times)
        finally:
            for tab in tabs:
                await tab.close()
    return worst


async def _phase(bench: Bench, name: str, work: object) -> tuple[dict[str, list[float]], float]:
    samples: dict[str, list[float]] = {"list": [], "open": []}
    stop = asyncio.Event()
    watcher = asyncio.create_task(_bystander(bench, stop, samples))
    await asyncio.sleep(0.5)
    for kind in samples.values():
        kind.clear()  # the bystander's login and first requests are not part of the phase
    slowest_open = await work if asyncio.iscoroutine(work) else (await asyncio.sleep(3.0) or 0.0)
    stop.set()
    await watcher
    return samples, slowest_open


async def main(rounds: int) -> int:
    with running(users=2) as bench:
        for n in range(200):
            bench.dovecot.deliver(user_email(0), plain_message(n))
        for make in HOSTILE.values():
            bench.dovecot.deliver(user_email(1), make())
        warm = await _tab(bench, user_email(0))  # the workers are started; index built
        await warm.list(50)
        await warm.close()
        base_rss, base_workers = _rss_with_workers(bench.pid)
        peak_rss, peak_workers = base_rss, base_workers
        ok = True
        columns = ("requests", "p50", "p99", "worst")
        print(
            f"{'phase':14s} {'bystander':9s} "
            + " ".join(f"{c:>9s}" for c in columns)
            + "  slowest hostile open"
        )
        for name, work in (
            ("baseline", None),
            ("one at a time", _one_at_a_time(bench, rounds)),
            ("all at once", _all_at_once(bench, rounds)),
        ):
            phase, slowest = await _phase(bench, name, work)
            rss, workers = _rss_with_workers(bench.pid)
            peak_rss, peak_workers = max(peak_rss, rss), max(peak_workers, workers)
            for kind, samples in phase.items():
                p99, worst = percentile(samples, 99), max(samples)
                good = p99 < P99_TARGET and worst < WORST_TARGET
                ok &= good or name == "baseline"
                hostile_open = ms(slowest) if slowest and kind == "list" else "-"
                print(
                    f"{name if kind == 'list' else '':14s} {kind:9s} {len(samples):9d} "
                    f"{ms(percentile(samples, 50)):>9s} {ms(p99):>9s} {ms(worst):>9s} "
                    f"{hostile_open:>21s}  {'' if name == 'baseline' else verdict(good)}"
                )
        growth = peak_rss - base_rss
        worker_growth = peak_workers - base_workers
        rss_ok = growth + worker_growth < RSS_TARGET_KB
        ok &= rss_ok
        print(
            f"RSS growth: server {growth / 1024:.0f} MiB (from {base_rss / 1024:.0f} MiB), "
            f"reading workers {worker_growth / 1024:.0f} MiB (from {base_workers / 1024:.0f} "
            f"MiB); together < 512 MiB: {verdict(rss_ok)}"
        )
        print(f"targets: bystander list and open p99 < 300 ms, worst < 1 s: {verdict(ok)}")
        return 0 if ok else 1


def inline_bound(size: int) -> int:
    """The most a message of up to ``size`` bytes costs to render in-process, for shapes
    built to be slow within the limits, against a worker round trip (what decides
    `mailgate.mail.reading.service.size`)."""
    from mailgate.mail.reading.limits import ReadingLimits
    from mailgate.mail.reading.render import render_whole
    from mailgate.mail.reading.workers import WorkerPool

    limits = ReadingLimits()
    head = b"From: a@example.test\r\nSubject: s\r\n"

    def fit(make: object) -> bytes:
        n = 1
        while len(make(n * 2)) <= size:  # type: ignore[operator]
            n *= 2
        lo, hi = n, n * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if len(make(mid)) <= size else (lo, mid)  # type: ignore[operator]
        return make(lo)  # type: ignore[no-any-return]

    html = lambda body: head + b"Content-Type: text/html\r\n\r\n" + body  # noqa: E731
    shapes = {
        "deep divs": lambda n: html(b"<div>" * n),
        "deep tables": lambda n: html(b"<table><tr><td>" * n),
        "misnested formatting": lambda n: html(b"<b><i><u><s>x</b></i></u></s>" * n),
        "many elements": lambda n: html(b"<p>" * n),
        "many styles": lambda n: html(b'<p style="color:red;margin:0;padding:0">x</p>' * n),
        "many links": lambda n: html(b'<a href="https://e.example/?utm_source=x">x</a>' * n),
        "many encoded words": lambda n: (
            b"From: a@example.test\r\nSubject: "
            + b" ".join([b"=?utf-8?q?=C3=A9?="] * n)
            + b"\r\n\r\nx"
        ),
        "many parts": lambda n: (
            head
            + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
            + b"--b\r\n\r\nx\r\n" * n
            + b"--b--\r\n"
        ),
        "deep multipart": lambda n: (
            head
            + b"".join(
                b'Content-Type: multipart/mixed; boundary="%d"\r\n\r\n--%d\r\n' % (i, i)
                for i in range(min(n, limits.mime_depth))
            )
            + b"x" * n
        ),
        "many addresses": lambda n: (
            b"From: a@example.test\r\nTo: "
            + b", ".join(b'"N %d" <a%d@example.test>' % (i, i) for i in range(n))
            + b"\r\n\r\nx"
        ),
    }
    worst = 0.0
    print(
        f"in-process rendering of messages up to {size} bytes (best of 3 runs, worst shape counts)"
    )
    for name, make in shapes.items():
        raw = fit(make)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            rendered = render_whole(raw, limits)
            times.append(time.perf_counter() - started)
        worst = max(worst, min(times))
        print(f"  {name:22s} {len(raw):6d} B  {ms(min(times)):>9s}  degraded={rendered.degraded}")

    async def round_trip() -> float:
        pool = WorkerPool(1)
        await pool.start()
        ordinary = html_message("<p>Hello, this is an ordinary newsletter.</p>" * 20)
        times = []
        for _ in range(50):
            started = time.perf_counter()
            await pool.run("x", 5.0, render_whole, ordinary, limits)
            times.append(time.perf_counter() - started)
        await pool.close()
        direct = []
        for _ in range(50):
            started = time.perf_counter()
            render_whole(ordinary, limits)
            direct.append(time.perf_counter() - started)
        print(
            f"an ordinary {len(ordinary)} B message: in-process {ms(percentile(direct, 50))}, "
            f"through a worker {ms(percentile(times, 50))}"
        )
        return percentile(times, 50)

    trip = asyncio.run(round_trip())
    print(f"worst in-process shape: {ms(worst)} (a worker round trip: {ms(trip)})")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--inline-bound", action="store_true")
    parser.add_argument("--inline-size", type=int, default=8192)
    args = parser.parse_args()
    if args.inline_bound:
        sys.exit(inline_bound(args.inline_size))
    sys.exit(asyncio.run(main(args.rounds)))
