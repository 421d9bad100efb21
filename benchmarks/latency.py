"""Per-operation latency through mailgate vs the same operation done directly, same run.

A 2,000-message INBOX (benchmarks/seed.py) plus one message with a 20 MiB attachment in
the harness's private Dovecot; mailgate in its own process; an SMTP submission server in a
third. Through mailgate = what a browser tab does over two HTTPS keep-alive connections
(benchmarks/webclient.py). Directly = benchmarks/imap_raw.py and aiosmtplib:

  login     TLS connect + LOGIN                     | POST /api/session
  list      warm connection, INBOX selected:        | GET .../messages?limit=50
            UID SORT + UID FETCH of 50 summaries    |
  first     after login: SELECT + the same list,    | the first GET .../messages
    list    its summaries parsed (mailgate's parser)|   of a session
  open      UID FETCH (flags, structure, body),     | GET /api/messages/{id}, and body.html
            then what any client needs to show it   |   at the same time when the list's
            (stdlib parse: shown headers, body,     |   summary says has_html (as the UI)
            attachment names)                       |
            ("open, FETCH only" prints the bare FETCH beside it, and "open, in series"
            the same open without the hint, JSON then body.html, for information)
  download  UID FETCH BINARY.PEEK[2] (20 MiB)       | GET .../parts/2
  send      SMTP submission (5 MiB attachment)      | POST /api/uploads + POST /api/send
            + APPEND to Sent                        |
  logout    LOGOUT                                  | DELETE /api/session

Direct and mailgate samples are interleaved so that background noise hits both alike.
List and open alternate (list, open, list, ...) as a user does; `list, repeated` is the
same list with nothing in between (info only).

    python benchmarks/latency.py [--rounds 200] [--login-rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TypeVar

import aiosmtplib
from harness import EMAIL, PASSWORD, Bench, peak_growth_kb, reset_peak, running, user_email
from imap_raw import RawImap, direct_login
from seed import big_attachment_message, build_corpus, clone_mailbox, seed_mailbox
from stats import ms, percentile, verdict
from webclient import BrowserTab

RECIPIENT = "someone@example.test"
# The direct client uses its own copy of the mailbox: its opens set \Seen too, and that
# news would make mailgate's connection re-SELECT, which is not what a lone user sees.
DIRECT_USER = user_email(1)
T = TypeVar("T")


@dataclass
class Samples:
    direct: list[float] = field(default_factory=list)
    mailgate: list[float] = field(default_factory=list)

    def ratio(self) -> float:
        return percentile(self.mailgate, 50) / percentile(self.direct, 50)


async def _timed(into: list[float], step: Awaitable[T]) -> T:
    """Await ``step``, adding the seconds it took to ``into``."""
    started = time.perf_counter()
    result = await step
    into.append(time.perf_counter() - started)
    return result


async def _fill_index(bench: Bench, user: str) -> None:
    """Fill Dovecot's index and cache once, as a mailbox in daily use has them."""
    conn = await direct_login(bench.dovecot.port, bench.imap_ssl, user, PASSWORD)
    await conn.command("EXAMINE INBOX")
    await conn.command("UID FETCH 1:* (ENVELOPE BODYSTRUCTURE PREVIEW)")
    await conn.sort_newest()
    await conn.logout()


async def _select_and_list(conn: RawImap) -> None:
    """The direct "first list": what a fresh connection does before it can show the list
    (issue 19's baseline: the same 50 summaries fetched and parsed)."""
    await conn.command("SELECT INBOX")
    await conn.list_newest_parsed()


async def _login_rounds(bench: Bench, rounds: int, out: dict[str, Samples]) -> None:
    port, ctx = bench.dovecot.port, bench.imap_ssl
    for _ in range(rounds):
        conn = await _timed(out["login"].direct, direct_login(port, ctx, DIRECT_USER, PASSWORD))
        await _timed(out["first list"].direct, _select_and_list(conn))
        await _timed(out["logout"].direct, conn.logout())

        tab = BrowserTab(bench.url, bench.web_ssl)
        try:
            await tab.warm()
            await _timed(out["login"].mailgate, tab.login(EMAIL, PASSWORD))
            await tab.find_inbox()
            await _timed(out["first list"].mailgate, tab.list())
            await _timed(out["logout"].mailgate, tab.logout())
        finally:
            await tab.close()


async def _browse_rounds(
    tab: BrowserTab, conn: RawImap, rounds: int, out: dict[str, Samples]
) -> None:
    uids = await conn.sort_newest(50)
    summaries = await tab.list()
    ids = [m["id"] for m in summaries]
    assert len(ids) == len(uids) == 50
    for i in range(rounds):
        await _timed(out["list"].direct, conn.list_newest())
        await _timed(out["list"].mailgate, tab.list())
        await _timed(out["open, FETCH only"].direct, conn.open(uids[i % 50]))
        hint = summaries[i % 50]["has_html"]  # as the UI opens from the list
        await _timed(out["open"].mailgate, tab.open(ids[i % 50], has_html=hint))
        out["open, FETCH only"].mailgate.append(out["open"].mailgate[-1])
        await _timed(out["open"].direct, conn.open_and_read(uids[i % 50]))
        # For comparison, the same open without the list's hint: the JSON, then body.html
        # (another message of the 50, so both rows meet the render cache alike).
        await _timed(out["open, in series"].mailgate, tab.open(ids[(i + 25) % 50]))
        out["open, in series"].direct.append(out["open"].direct[-1])
    for _ in range(rounds // 2):
        await _timed(out["list, repeated"].direct, conn.list_newest())
        await _timed(out["list, repeated"].mailgate, tab.list())


async def _download_rounds(
    bench: Bench, tab: BrowserTab, conn: RawImap, rounds: int, out: dict[str, Samples]
) -> tuple[int, int]:
    oldest = await conn.lines("UID SORT (DATE) UTF-8 ALL")
    big_uid = int(next(line for line in oldest if line.startswith(b"* SORT")).split()[2])
    async with tab.http.get(
        f"{tab.url}/api/mailboxes/{tab.inbox}/messages", params={"limit": "1", "sort": "date_asc"}
    ) as r:
        big_id = (await r.json())["messages"][0]["id"]
    growth = got = 0
    for _ in range(rounds):
        await _timed(out["download"].direct, conn.command(f"UID FETCH {big_uid} (BINARY.PEEK[2])"))
        base = reset_peak(bench.pid)
        got = await _timed(out["download"].mailgate, tab.download(big_id, "2"))
        growth = max(growth, peak_growth_kb(bench.pid, base))
    return got, growth


def _direct_message(attachment: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = EMAIL, RECIPIENT, "with attachment"
    msg.set_content("Here is the file.")
    msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="doc.pdf")
    return msg.as_bytes()


async def _send_rounds(
    bench: Bench, tab: BrowserTab, conn: RawImap, rounds: int, size: int, out: dict[str, Samples]
) -> int:
    attachment = os.urandom(size)
    raw = _direct_message(attachment)
    assert bench.smtp_port is not None
    growth = 0
    for _ in range(rounds):
        started = time.perf_counter()
        await aiosmtplib.send(
            raw,
            sender=EMAIL,
            recipients=[RECIPIENT],
            hostname="localhost",
            port=bench.smtp_port,
            use_tls=True,
            tls_context=bench.imap_ssl,
            username=EMAIL,
            password=PASSWORD,
        )
        await conn.append("Sent", raw)
        out["send"].direct.append(time.perf_counter() - started)

        base = reset_peak(bench.pid)
        started = time.perf_counter()
        upload_id = (await tab.upload(attachment, "doc.pdf"))["id"]
        uploaded = time.perf_counter()
        await tab.send(RECIPIENT, "with attachment", "Here is the file.", [upload_id])
        done = time.perf_counter()
        growth = max(growth, peak_growth_kb(bench.pid, base))
        out["upload (info)"].mailgate.append(uploaded - started)
        out["send"].mailgate.append(done - uploaded)
        await tab.delete_upload(upload_id)
    return growth


def _row(name: str, s: Samples, target: str = "", ok: bool | None = None) -> str:
    d50, d99 = percentile(s.direct, 50), percentile(s.direct, 99)
    m50, m99 = percentile(s.mailgate, 50), percentile(s.mailgate, 99)
    ratio = f"{s.ratio():5.2f}x" if s.direct else "   -  "
    direct = f"{ms(d50):>9} {ms(d99):>9}" if s.direct else f"{'-':>9} {'-':>9}"
    tail = f"  {target}: {verdict(ok)}" if ok is not None else ""
    return f"{name:<16}{direct}  {ms(m50):>9} {ms(m99):>9}  {ratio}{tail}"


async def run(args: argparse.Namespace) -> int:
    names = (
        "login",
        "first list",
        "list",
        "list, repeated",
        "open",
        "open, FETCH only",
        "open, in series",
        "logout",
        "download",
    )
    out = {n: Samples() for n in (*names, "send", "upload (info)")}
    with running(users=2, smtp=True) as bench:
        started = time.perf_counter()
        corpus = build_corpus(args.messages)
        files = seed_mailbox(bench.dovecot, EMAIL, corpus)
        big = big_attachment_message(args.big_mb * 1024 * 1024)
        files.append(bench.dovecot.deliver(EMAIL, big, flags="S"))
        del big
        clone_mailbox(bench.dovecot, files, DIRECT_USER)
        for user in (EMAIL, DIRECT_USER):
            await _fill_index(bench, user)
        conn = await direct_login(bench.dovecot.port, bench.imap_ssl, DIRECT_USER, PASSWORD)
        await conn.command("SELECT INBOX")
        print(
            f"seeded {args.messages} messages {corpus.kinds} + one {args.big_mb} MiB "
            f"attachment in {time.perf_counter() - started:.1f} s"
        )
        await _login_rounds(bench, args.login_rounds, out)
        tab = BrowserTab(bench.url, bench.web_ssl)
        try:
            await tab.warm()
            await tab.login(EMAIL, PASSWORD)
            await tab.find_inbox()
            await _browse_rounds(tab, conn, args.rounds, out)
            got, down_growth = await _download_rounds(bench, tab, conn, args.big_rounds, out)
            send_growth = await _send_rounds(
                bench, tab, conn, args.big_rounds, args.send_mb * 1024 * 1024, out
            )
            await tab.logout()
        finally:
            await tab.close()
        await conn.logout()
    assert got == args.big_mb * 1024 * 1024, got

    print(
        f"\nrounds: list/open {args.rounds}, login/logout {args.login_rounds}, "
        f"download/send {args.big_rounds}"
    )
    print(f"{'operation':<16}{'direct p50':>9} {'p99':>9}  {'mailgate':>9} {'p99':>9}  ratio")
    checks: list[bool] = []

    def check(name: str, limit: float) -> str:
        ok = out[name].ratio() <= limit
        checks.append(ok)
        return _row(name, out[name], f"median <= {limit}x direct", ok)

    print(check("login", 1.5))
    # Issue 19: the first list of a session <= 2x a direct client that fetches and parses
    # the same 50 summaries (with mailgate's own IMAP parser: benchmarks/imap_raw.py).
    print(check("first list", 2.0))
    print(check("list", 1.5))
    print(_row("list, repeated", out["list, repeated"]))
    # Opening a message directly means fetching it and reading what a reader shows
    # (stdlib email, policy.default: headers, body, attachment names); the issue's own
    # figure for a direct open here is ~3 ms. The bare FETCH below is the wire floor
    # alone, printed for information.
    print(check("open", 1.5))
    print(_row("open, FETCH only", out["open, FETCH only"]))
    print(_row("open, in series", out["open, in series"]))
    print(_row("logout", out["logout"]))
    print(_row("download", out["download"]))
    print(_row("send", out["send"]))
    print(_row("upload (info)", out["upload (info)"]))
    mib = args.big_mb
    d_tp = mib / percentile(out["download"].direct, 50)
    m_tp = mib / percentile(out["download"].mailgate, 50)
    tp_ok = m_tp / d_tp >= 0.8
    down_ok = down_growth / 1024 < 16
    send_ok = send_growth / 1024 < 16
    checks += [tp_ok, down_ok, send_ok]
    print(
        f"\ndownload {mib} MiB: direct {d_tp:.0f} MiB/s, mailgate {m_tp:.0f} MiB/s: "
        f"{m_tp / d_tp:.2f}x (>= 0.80): {verdict(tp_ok)}"
    )
    print(f"download peak RSS growth: {down_growth / 1024:.1f} MiB (< 16): {verdict(down_ok)}")
    print(
        f"send {args.send_mb} MiB (upload + send) peak RSS growth: {send_growth / 1024:.1f} MiB "
        f"(< 16): {verdict(send_ok)}"
    )
    return 0 if all(checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=200, help="list/open samples")
    parser.add_argument("--login-rounds", type=int, default=40)
    parser.add_argument("--big-rounds", type=int, default=15, help="download/send samples")
    parser.add_argument("--big-mb", type=int, default=20)
    parser.add_argument("--send-mb", type=int, default=5)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
