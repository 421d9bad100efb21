"""Soak: many sessions through HAProxy while the platform is broken in turn (issue 23).

Everything on 127.0.0.1: a private Dovecot, an SMTP submission server (in this process,
counting what arrives), Redis with a primary, two replicas and three Sentinels, three
`mailgate serve` processes behind HAProxy running the shipped config/haproxy.cfg. N
sessions (default 200) loop list mailboxes, list INBOX, open a message, upload a file and
send a message with it, each with a think time, through these phases:

  baseline   nothing happens
  kill       one instance is killed (SIGKILL) and started again
  redis      the Redis primary is killed (SIGKILL); Sentinel promotes a replica
  dovecot    Dovecot is restarted
  rolling    the three instances are restarted one by one (SIGTERM, start, ready)
  settle     nothing happens

A failed request is retried like the UI would (503/502/connection errors: wait, retry);
a send whose outcome is unknown (the connection died after it was written) is not
retried but looked for at the SMTP server. Prints, per phase: requests, errors by kind,
p50/p99 latency; then re-logins (target 0), uploads and sends lost (target 0), duplicate
sends (target 0). Bounded: every phase lasts `--phase-seconds` after its action ends.

    python benchmarks/soak.py [--sessions 200] [--users 20] [--phase-seconds 10] [--think 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import re
import secrets
import signal
import ssl
import statistics
import sys
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from benchmarks.harness import _DOVECOT_LIMITS, PASSWORD, user_email
from mailgate.sandbox.smtp import SandboxSMTP
from mailgate.testing.client import ApiClient
from tests.servers.cluster import MailgateCluster
from tests.servers.dovecot import Dovecot
from tests.servers.sentinel import SentinelCluster

PHASES = ("baseline", "kill", "redis", "dovecot", "rolling", "settle")
RETRYABLE = {502, 503, 504}
TOKEN = re.compile(rb"soak-([0-9a-f]{16})")


@dataclass
class Stats:
    phase: str = "setup"
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: dict[str, collections.Counter[str]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    relogins: int = 0
    uploads_acked: int = 0
    uploads_lost: int = 0
    sends_acked: set[str] = field(default_factory=set)
    sends_unknown: set[str] = field(default_factory=set)


class Session:
    def __init__(self, n: int, url: str, ctx: ssl.SSLContext, email: str, stats: Stats):
        self.n, self.email, self.stats = n, email, stats
        self.api = ApiClient(url, ctx)
        self.inbox: str | None = None

    async def call(self, op: str, method: str, path: str, **kw: Any) -> Any:
        """One request, retried while the answer is 'try again' (and logged in again on
        401, which counts as a re-login). Returns the final response, or None when the
        outcome is unknown (send only)."""
        while True:
            phase = self.stats.phase
            started = time.monotonic()
            try:
                resp = await self.api.request(method, path, **kw)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.stats.requests[phase] += 1
                self.stats.errors[phase][f"{op}:{type(exc).__name__}"] += 1
                if op == "send":
                    return None  # written, maybe delivered: never sent twice
                await asyncio.sleep(0.5)
                continue
            self.stats.requests[phase] += 1
            self.stats.latencies[phase].append(time.monotonic() - started)
            if resp.status == 401 and op != "login":
                self.stats.relogins += 1
                self.stats.errors[phase][f"{op}:401"] += 1
                await self.do_login()
                continue
            if resp.status in RETRYABLE:
                self.stats.errors[phase][f"{op}:{resp.status}:{resp.error_code}"] += 1
                if op == "send" and resp.status != 503:
                    return None
                await asyncio.sleep(0.5)
                continue
            if resp.status >= 400:
                self.stats.errors[phase][f"{op}:{resp.status}:{resp.error_code}"] += 1
            return resp

    async def do_login(self) -> None:
        while True:
            resp = await self.call(
                "login",
                "POST",
                "/api/session",
                json={"email": self.email, "password": PASSWORD},
            )
            if resp.status == 201:
                self.api.csrf = resp.json()["csrf_token"]
                return
            await asyncio.sleep(0.5)

    async def round(self) -> None:
        if self.inbox is None:
            boxes = await self.call("mailboxes", "GET", "/api/mailboxes")
            if boxes.status != 200:
                return
            self.inbox = next(m["id"] for m in boxes.json()["mailboxes"] if m["role"] == "inbox")
        listing = await self.call("list", "GET", f"/api/mailboxes/{self.inbox}/messages")
        if listing.status == 200 and listing.json()["messages"]:
            first = random.choice(listing.json()["messages"])
            await self.call("open", "GET", f"/api/messages/{first['id']}")
        form = aiohttp.FormData()
        form.add_field("file", secrets.token_bytes(4096), filename="soak.bin")
        up = await self.call("upload", "POST", "/api/uploads", data=form)
        if up.status != 201:
            return
        self.stats.uploads_acked += 1
        token = secrets.token_hex(8)
        sent = await self.call(
            "send",
            "POST",
            "/api/send",
            json={
                "to": [f"rcpt-{self.n}@example.net"],
                "subject": f"soak-{token}",
                "text": "soak",
                "attachments": [up.json()["id"]],
                "save_sent": False,
            },
        )
        if sent is None:
            self.stats.sends_unknown.add(token)
        elif sent.status == 200:
            self.stats.sends_acked.add(token)
            # Sent: the upload is done with (a session holds at most 50 uploads).
            await self.call("discard", "DELETE", f"/api/uploads/{up.json()['id']}")
        elif sent.status == 400:  # the acknowledged upload is gone
            self.stats.uploads_lost += 1


async def _run(args: argparse.Namespace) -> int:
    stats = Stats()
    dc = Dovecot()
    with dc.config_file.open("a") as conf:
        conf.write(_DOVECOT_LIMITS)
    dc.start()
    sentinels = SentinelCluster(replicas=2)
    cluster: MailgateCluster | None = None
    received: collections.Counter[str] = collections.Counter()
    try:
        emails = [user_email(n) for n in range(args.users)]
        for email in emails:
            dc.add_user(email, PASSWORD)
            for k in range(3):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "a@example.test", email, f"m{k}"
                msg.set_content("soak message " * 50)
                dc.deliver(email, bytes(msg))
        cert = dc.ca.issue_cert("localhost", "127.0.0.1")
        cert_file, key_file = dc.root / "smtp-cert.pem", dc.root / "smtp-key.pem"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        cert.private_key_pem.write_to_path(str(key_file))
        smtp_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        smtp_ctx.load_cert_chain(cert_file, key_file)
        smtp: SandboxSMTP

        async def count(rcpt: str, content: bytes) -> bool:
            smtp.received.clear()
            for token in TOKEN.findall(content[:4000]):
                received[token.decode()] += 1
            return True

        smtp = SandboxSMTP(smtp_ctx, lambda _u, given: given == PASSWORD, deliver_local=count)
        await smtp.start()
        sentinels.start()
        settings: dict[str, dict[str, Any]] = {
            "imap": {"host": "localhost", "port": dc.port},
            "smtp": {"host": "localhost", "port": smtp.port},
            "upstream": {"ca_file": dc.ca_file, "allow_any_port": "true"},
            "store": sentinels.store_settings(min_replica_acks=1),
        }
        cluster = MailgateCluster(settings)
        await asyncio.to_thread(cluster.start)
        ctx = cluster.client_ssl()
        sessions = [
            Session(n, cluster.url, ctx, emails[n % len(emails)], stats)
            for n in range(args.sessions)
        ]
        print(f"soak: {args.sessions} sessions, {args.users} users; logging in", flush=True)
        for batch in range(0, len(sessions), 20):
            await asyncio.gather(*(s.do_login() for s in sessions[batch : batch + 20]))
        stats.relogins = 0
        stop = asyncio.Event()

        async def loop(s: Session) -> None:
            await asyncio.sleep(random.uniform(0, args.think))
            while not stop.is_set():
                await s.round()
                await asyncio.sleep(random.uniform(0, 2 * args.think))

        tasks = [asyncio.create_task(loop(s)) for s in sessions]

        async def rolling() -> None:
            for i in range(3):
                await asyncio.to_thread(cluster.stop_instance, i, signal.SIGTERM)
                await asyncio.to_thread(cluster.start_instance, i)
                await asyncio.sleep(2.5)  # HAProxy: rise 2 x inter 1s

        async def kill_one() -> None:
            await asyncio.to_thread(cluster.stop_instance, 0, signal.SIGKILL)
            await asyncio.sleep(2)
            await asyncio.to_thread(cluster.start_instance, 0)

        async def redis_failover() -> None:
            old = sentinels.primary_port()
            sentinels.kill(old)
            while await asyncio.to_thread(sentinels.primary_port) == old:
                await asyncio.sleep(0.2)

        async def nothing() -> None:
            return None

        actions = {
            "baseline": nothing,
            "kill": kill_one,
            "redis": redis_failover,
            "dovecot": lambda: asyncio.to_thread(dc.restart),
            "rolling": rolling,
            "settle": nothing,
        }
        durations = {}
        for phase in PHASES:
            stats.phase = phase
            started = time.monotonic()
            await actions[phase]()
            await asyncio.sleep(args.phase_seconds)
            durations[phase] = time.monotonic() - started
            print(f"  {phase}: {durations[phase]:.1f} s", flush=True)
        stop.set()
        stats.phase = "drain"
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        await asyncio.sleep(1)
        for s in sessions:
            await s.api.close()
        await smtp.stop()
    finally:
        if cluster is not None:
            cluster.cleanup()
        sentinels.cleanup()
        dc.stop()
        dc.cleanup()

    print(f"\n{'phase':<9} {'s':>5} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for phase in (*PHASES, "drain"):
        lat = sorted(stats.latencies.get(phase, []))
        p50 = statistics.median(lat) * 1000 if lat else 0.0
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0
        errs = sum(stats.errors[phase].values())
        took = durations.get(phase, 0.0)
        print(
            f"{phase:<9} {took:>5.1f} {stats.requests[phase]:>9} {errs:>7} {p50:>8.1f} {p99:>8.1f}"
        )
        for kind, n in stats.errors[phase].most_common():
            print(f"          {kind}: {n}")
    lost_sends = sorted(t for t in stats.sends_acked if received[t] == 0)
    duplicates = sorted(t for t, n in received.items() if n > 1)
    unknown_delivered = sum(1 for t in stats.sends_unknown if received[t])
    print(
        f"\nuploads acknowledged {stats.uploads_acked}, sends acknowledged "
        f"{len(stats.sends_acked)}, sends with unknown outcome {len(stats.sends_unknown)} "
        f"({unknown_delivered} of them delivered)"
    )
    results = {
        "re-logins": stats.relogins,
        "uploads lost": stats.uploads_lost,
        "sends lost": len(lost_sends),
        "duplicate sends": len(duplicates),
    }
    ok = True
    for name, value in results.items():
        verdict = "PASS" if value == 0 else "FAIL"
        ok &= value == 0
        print(f"{name}: {value} (target 0) {verdict}")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--phase-seconds", type=float, default=10.0)
    parser.add_argument("--think", type=float, default=1.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(_run(args)))


if __name__ == "__main__":
    main()
