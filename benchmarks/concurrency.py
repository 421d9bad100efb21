"""Many sessions at once: throughput and latency of list + open through mailgate, and the
direct warm-IMAP throughput baseline, in the same run.

Setup: 50 users, each with the same 2,000-message INBOX (benchmarks/seed.py, hard links;
every message already seen, so opening one changes no flag and one user's sessions do not
invalidate each other's selection). Phases, each `--duration` seconds:

  direct    50 IMAP connections (one per user), INBOX selected, closed loop of
            list (UID SORT + FETCH of 50 summaries) and open (FETCH of one message)
  mailgate  50 sessions (one per user), closed loop of list + open (open = message JSON,
            plus body.html when the message has HTML, as the UI does)
  mailgate  500 sessions (10 per user), each waiting a think time (uniform 0..2x
            `--think`, default mean 5 s) before every operation

The two closed-loop phases run twice each, in the order direct, mailgate, mailgate,
direct, and each side's two are pooled for the verdicts: on the 2-core VMs the direct
throughput alone drifted by a quarter within minutes (638 to 456 operations/s,
benchmarks/README.md, 2026-12-07), and with one phase each the side that ran later
carried the drift.

The load generator runs in `--workers` processes apart from mailgate's own process.
"Closed loop" means each session starts its next operation as soon as the previous one
answered: that measures the most the system gives, and latency then grows with the number
of sessions (Little's law), which is why the 500-session phase has a think time.

    python benchmarks/concurrency.py [--duration 20] [--workers 2] [--think 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass

from harness import PASSWORD, Bench, cpu_seconds, dovecot_pids, rss_kb, running
from imap_raw import direct_login
from loadgen import Plan, Result, run_workers
from seed import Corpus, build_corpus, clone_mailbox, seed_mailbox
from stats import ms, percentile, verdict

USERS = 50


@dataclass
class Phase:
    name: str
    result: Result
    seconds: float
    cpu: dict[str, float]  # process group -> share of one core
    rss_mb: float

    @property
    def ops_per_s(self) -> float:
        return self.result.completed / self.seconds

    @property
    def all_latencies(self) -> list[float]:
        return [x for values in self.result.latencies.values() for x in values]

    @property
    def errors(self) -> int:
        return sum(self.result.errors.values()) + sum(self.result.setup_errors.values())


def _seed(bench: Bench, messages: int) -> None:
    corpus = build_corpus(messages)
    seen = Corpus([(raw, t, "S") for raw, t, _ in corpus.messages], corpus.kinds)
    files = seed_mailbox(bench.dovecot, bench.users[0], seen)
    for user in bench.users[1:]:
        clone_mailbox(bench.dovecot, files, user)


async def _warm(bench: Bench) -> None:
    """First SELECT + SORT + FETCH per user, so Dovecot builds each index outside the runs."""
    gate = asyncio.Semaphore(4)

    async def warm(user: str) -> None:
        async with gate:
            conn = await direct_login(bench.dovecot.port, bench.imap_ssl, user, PASSWORD)
            await conn.command("SELECT INBOX")
            await conn.list_newest()
            await conn.logout()

    await asyncio.gather(*(warm(u) for u in bench.users))


def _phase(
    bench: Bench, name: str, kind: str, sessions: int, args: argparse.Namespace, think: float
) -> Phase:
    users = [bench.users[i % len(bench.users)] for i in range(sessions)]
    workers = max(1, min(args.workers, sessions))
    plans = [
        Plan(
            kind=kind,
            users=users[w::workers],
            password=PASSWORD,
            url=bench.url,
            web_ca=bench.web_ca_file,
            imap_port=bench.dovecot.port or 0,
            imap_ca=bench.imap_ca_file,
            duration=args.duration,
            think=think,
            seed=w,
        )
        for w in range(workers)
    ]
    marks: dict[str, float] = {}
    roots = {"mailgate": bench.pid, "dovecot": bench.dovecot_master}
    started: dict[str, dict[int, float]] = {}

    def on_start() -> None:
        # The server and its reading workers (their CPU is the server's too), per process:
        # processes that start during the phase (the reading workers start on the first
        # open, Dovecot forks imap processes) count from zero.
        for group, root in roots.items():
            started[group] = {pid: cpu_seconds([pid]) for pid in dovecot_pids(root)}
        marks["rss"] = rss_kb(bench.pid) / 1024
        marks["t"] = time.monotonic()

    def on_stop() -> None:
        marks["seconds"] = time.monotonic() - marks["t"]
        for group, root in roots.items():
            # (A process that ended during the phase, a retired worker, is not counted.)
            marks[group] = sum(
                cpu_seconds([pid]) - started[group].get(pid, 0.0) for pid in dovecot_pids(root)
            )

    result = run_workers(plans, on_start, on_stop)
    seconds = marks["seconds"]
    cpu = {group: marks[group] / seconds for group in roots}
    cpu["load generator"] = result.cpu_s / seconds
    return Phase(name, result, seconds, cpu, marks["rss"])


def _pooled(name: str, phases: list[Phase]) -> Phase:
    """The phases as one: their operations and latencies together, over their summed
    time; CPU shares weighted by each phase's length, the largest RSS."""
    result = Result()
    for phase in phases:
        result.merge(phase.result)
    seconds = sum(p.seconds for p in phases)
    cpu = {g: sum(p.cpu[g] * p.seconds for p in phases) / seconds for g in phases[0].cpu}
    return Phase(name, result, seconds, cpu, max(p.rss_mb for p in phases))


def _report(phase: Phase) -> None:
    r = phase.result
    lat = phase.all_latencies
    http = f", {r.requests / phase.seconds:.0f} HTTP requests/s" if r.requests else ""
    print(f"\n== {phase.name}")
    print(
        f"{phase.ops_per_s:.0f} operations/s{http}; "
        f"p50 {ms(percentile(lat, 50))}, p99 {ms(percentile(lat, 99))}; "
        f"errors {phase.errors}"
    )
    for op, values in r.latencies.items():
        print(
            f"  {op:<5} n={len(values):<6} p50 {ms(percentile(values, 50)):>8}  "
            f"p99 {ms(percentile(values, 99)):>8}"
        )
    for key, n in sorted({**r.setup_errors, **r.errors}.items()):
        print(f"  error {key}: {n}")
    shares = ", ".join(f"{group} {share * 100:.0f}%" for group, share in phase.cpu.items())
    print(f"  CPU (100% = one core; the machine has 2): {shares}")
    if phase.name.startswith("mailgate"):
        print(f"  mailgate RSS with these sessions logged in: {phase.rss_mb:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--think", type=float, default=5.0, help="500-session think time (s)")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--many", type=int, default=500, help="sessions in the last phase")
    args = parser.parse_args()
    with running(users=USERS) as bench:
        started = time.perf_counter()
        _seed(bench, args.messages)
        asyncio.run(_warm(bench))
        print(
            f"{USERS} users with {args.messages} messages each, seeded and indexed in "
            f"{time.perf_counter() - started:.0f} s; {args.duration:.0f} s per phase, "
            f"{args.workers} load generator processes"
        )
        # Counterbalanced: direct, mailgate, mailgate, direct, each side's two phases
        # pooled, so a drift of the machine's speed over the run weighs on both alike.
        direct_name = "direct IMAP, 50 connections, closed loop"
        fifty_name = "mailgate, 50 sessions, closed loop"
        halves: dict[str, list[Phase]] = {direct_name: [], fifty_name: []}
        for name, kind in (
            (direct_name, "direct"),
            (fifty_name, "mailgate"),
            (fifty_name, "mailgate"),
            (direct_name, "direct"),
        ):
            half = _phase(bench, f"{name} ({len(halves[name]) + 1} of 2)", kind, 50, args, 0)
            _report(half)
            halves[name].append(half)
        direct = _pooled(direct_name, halves[direct_name])
        _report(direct)
        fifty = _pooled(fifty_name, halves[fifty_name])
        _report(fifty)
        pace = (
            f"think time 0..{2 * args.think:g} s (mean {args.think:g} s)"
            if args.think
            else "closed loop"
        )
        title = f"mailgate, {args.many} sessions, {pace}"
        many = _phase(bench, title, "mailgate", args.many, args, args.think)
        _report(many)

    ratio = fifty.ops_per_s / direct.ops_per_s
    p99_50 = percentile(fifty.all_latencies, 99)
    p99_direct = percentile(direct.all_latencies, 99)
    # CPU of the server and its workers per user action (a list or an open).
    cpu_ms = fifty.cpu["mailgate"] * fifty.seconds / max(1, fifty.result.completed) * 1000
    p99_many = percentile(many.all_latencies, 99)
    checks = {
        f"50 sessions: throughput {ratio:.2f}x direct (>= 0.5)": ratio >= 0.5,
        f"50 sessions: errors {fifty.errors} (= 0)": fifty.errors == 0,
        f"50 sessions: p99 {ms(p99_50)} (< 300 ms)": p99_50 < 0.3,
        # Issue 19's targets for the ordinary mailbox.
        f"50 sessions: throughput {ratio:.2f}x direct (>= 0.8)": ratio >= 0.8,
        f"50 sessions: p99 {p99_50 / p99_direct:.2f}x direct (<= 1.3)": p99_50 <= 1.3 * p99_direct,
        f"50 sessions: mailgate CPU per action {cpu_ms:.2f} ms (<= 3)": cpu_ms <= 3.0,
        f"{args.many} sessions: errors {many.errors} (= 0)": many.errors == 0,
        f"{args.many} sessions: p99 {ms(p99_many)} (< 1 s)": p99_many < 1.0,
    }
    print()
    for text, ok in checks.items():
        print(f"{text}: {verdict(ok)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
