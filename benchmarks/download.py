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
import ssl
import statistics
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from mailgate.mail.imap.client import MailClient
from mailgate.mail.imap.protocol import ImapConnection
from mailgate.sandbox.ca import LocalCA
from mailgate.testing.servers import free_port
from tests.servers.dovecot import Dovecot

EMAIL, PASSWORD = "bench@example.test", "bench-password"


def _rss_peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def direct(dc: Dovecot, ctx: ssl.SSLContext, size: int) -> float:
    conn = await ImapConnection.open("localhost", dc.port, "tls", ctx, timeout=30)
    await conn.login(EMAIL, PASSWORD)
    client = MailClient(conn)
    await client.select("INBOX")
    started = time.perf_counter()
    got = 0
    async with await client.stream_section("INBOX", 1, "2") as stream:
        async for chunk in stream:
            got += len(chunk)
    elapsed = time.perf_counter() - started
    await client.logout()
    assert got == size, (got, size)
    return elapsed


async def through_mailgate(url: str, ctx: ssl.SSLContext, pid: int, size: int) -> tuple[float, int]:
    async with aiohttp.ClientSession() as http:
        origin = {"Origin": url}
        async with http.post(
            f"{url}/api/session",
            json={"email": EMAIL, "password": PASSWORD},
            ssl=ctx,
            headers=origin,
        ) as resp:
            assert resp.status == 201, await resp.text()
        async with http.get(f"{url}/api/mailboxes", ssl=ctx) as resp:
            inbox = next(b for b in (await resp.json())["mailboxes"] if b["role"] == "inbox")
        async with http.get(f"{url}/api/mailboxes/{inbox['id']}/messages", ssl=ctx) as resp:
            mid = (await resp.json())["messages"][0]["id"]
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak to the current RSS
        base = _rss_kb(pid)
        started = time.perf_counter()
        got = 0
        async with http.get(f"{url}/api/messages/{mid}/parts/2", ssl=ctx) as resp:
            assert resp.status == 200
            async for chunk in resp.content.iter_chunked(256 * 1024):
                got += len(chunk)
        elapsed = time.perf_counter() - started
        growth = _rss_peak_kb(pid) - base
    assert got == size, (got, size)
    return elapsed, growth


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    dc = Dovecot()
    dc.start()
    ca = LocalCA()
    proc = None
    try:
        dc.add_user(EMAIL, PASSWORD)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@example.test", EMAIL, "big"
        msg.set_content("see attachment")
        msg.add_attachment(
            os.urandom(size), maintype="application", subtype="octet-stream", filename="big.bin"
        )
        dc.deliver(EMAIL, msg.as_bytes())
        del msg
        cert, key = ca.issue("localhost", "127.0.0.1")
        port = free_port()
        env = {
            **os.environ,
            "MAILGATE_SERVER_PORT": str(port),
            "MAILGATE_TLS_CERT_FILE": cert,
            "MAILGATE_TLS_KEY_FILE": key,
            "MAILGATE_IMAP_HOST": "localhost",
            "MAILGATE_IMAP_PORT": str(dc.port),
            "MAILGATE_SMTP_HOST": "localhost",
            "MAILGATE_UPSTREAM_CA_FILE": dc.ca_file,
            "MAILGATE_LOG_LEVEL": "warning",
        }
        proc = subprocess.Popen([sys.executable, "-m", "mailgate", "serve"], env=env)
        url = f"https://localhost:{port}"
        for _ in range(100):
            try:
                with __import__("socket").create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        imap_ctx = ssl.create_default_context(cafile=dc.ca_file)
        web_ctx = ssl.create_default_context(cafile=ca.ca_pem_path)
        d_times, m_times, growths = [], [], []
        for _ in range(args.rounds):
            d_times.append(await direct(dc, imap_ctx, size))
            t, g = await through_mailgate(url, web_ctx, proc.pid, size)
            m_times.append(t)
            growths.append(g)
        d, m = statistics.median(d_times), statistics.median(m_times)
        ratio = d / m
        growth_mb = max(growths) / 1024
        mb = size / 1024 / 1024
        print(f"attachment: {mb:.0f} MiB, rounds: {args.rounds}")
        print(f"direct IMAP BINARY.PEEK: median {d * 1000:.0f} ms, {mb / d:.0f} MiB/s")
        print(f"through mailgate HTTPS:  median {m * 1000:.0f} ms, {mb / m:.0f} MiB/s")
        verdict = {True: "PASS", False: "FAIL"}
        print(f"throughput ratio: {ratio:.2f}x direct (target >= 0.80): {verdict[ratio >= 0.8]}")
        print(f"server peak RSS growth: {growth_mb:.1f} MiB (< 16): {verdict[growth_mb < 16]}")
        return 0 if ratio >= 0.8 and growth_mb < 16 else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        dc.stop()
        dc.cleanup()
        ca.cleanup()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
