"""Download a 50 MB attachment through mailgate and directly over IMAP, in the same run.

Prints both throughputs, their ratio, and the mailgate server process's peak RSS
growth during the download (VmHWM, reset through /proc/<pid>/clear_refs).
Targets (issue 3): ratio >= 0.8, growth < 16 MB. Needs Dovecot (run as root).

    .venv/bin/python benchmarks/download.py [--mb 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from email.message import EmailMessage

from harness import EMAIL, PASSWORD, Bench, peak_growth_kb, reset_peak, running
from imap_raw import direct_login
from webclient import BrowserTab


async def direct(bench: Bench, size: int) -> float:
    """A fresh connection each round (as a new session's download is): LOGIN, SELECT, then
    the timed ``UID FETCH 1 (BINARY.PEEK[2])``, its literal read and dropped."""
    conn = await direct_login(bench.dovecot.port, bench.imap_ssl, EMAIL, PASSWORD)
    await conn.command("SELECT INBOX")
    started = time.perf_counter()
    got = await conn.command("UID FETCH 1 (BINARY.PEEK[2])")
    elapsed = time.perf_counter() - started
    await conn.logout()
    assert got > size, (got, size)  # the literal plus the response lines
    return elapsed


async def through_mailgate(bench: Bench, size: int) -> tuple[float, int]:
    tab = BrowserTab(bench.url, bench.web_ssl)
    try:
        await tab.login(EMAIL, PASSWORD)
        await tab.find_inbox()
        message_id = (await tab.list(1))[0]["id"]
        base = reset_peak(bench.pid)
        started = time.perf_counter()
        got = await tab.download(message_id, "2")
        elapsed = time.perf_counter() - started
        growth = peak_growth_kb(bench.pid, base)
        await tab.logout()
    finally:
        await tab.close()
    assert got == size, (got, size)
    return elapsed, growth


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    with running() as bench:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@example.test", EMAIL, "big"
        msg.set_content("see attachment")
        msg.add_attachment(
            os.urandom(size), maintype="application", subtype="octet-stream", filename="big.bin"
        )
        bench.dovecot.deliver(EMAIL, msg.as_bytes())
        del msg
        d_times, m_times, growths = [], [], []
        for _ in range(args.rounds):
            d_times.append(await direct(bench, size))
            t, g = await through_mailgate(bench, size)
            m_times.append(t)
            growths.append(g)
    d, m = statistics.median(d_times), statistics.median(m_times)
    ratio = d / m
    growth_mb = max(growths) / 1024
    mb = size / 1024 / 1024
    verdict = {True: "PASS", False: "FAIL"}
    print(f"attachment: {mb:.0f} MiB, rounds: {args.rounds}")
    print(f"direct IMAP BINARY.PEEK: median {d * 1000:.0f} ms, {mb / d:.0f} MiB/s")
    print(f"through mailgate HTTPS:  median {m * 1000:.0f} ms, {mb / m:.0f} MiB/s")
    print(f"throughput ratio: {ratio:.2f}x direct (target >= 0.80): {verdict[ratio >= 0.8]}")
    print(f"server peak RSS growth: {growth_mb:.1f} MiB (< 16): {verdict[growth_mb < 16]}")
    return 0 if ratio >= 0.8 and growth_mb < 16 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
