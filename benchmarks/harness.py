"""Shared by the benchmarks: a private Dovecot, `mailgate serve` in its own process
(so its memory is measured alone), an optional SMTP submission server in a third
process, and readings from /proc (peak RSS, RSS, CPU time)."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailgate.sandbox.ca import LocalCA
from mailgate.testing.servers import free_port
from tests.servers.dovecot import Dovecot

__all__ = [
    "EMAIL",
    "PASSWORD",
    "Bench",
    "cpu_seconds",
    "dovecot_pids",
    "peak_growth_kb",
    "reset_peak",
    "rss_kb",
    "running",
    "user_email",
]

EMAIL, PASSWORD = "bench@example.test", "bench-password"
_HERE = Path(__file__).resolve().parent

# Dovecot's defaults allow 100 login processes (one per IMAPS connection in its default
# high-security mode: the login process relays TLS for the connection's lifetime) and
# 1024 imap processes. The concurrency and idle-session runs hold up to ~1,100 at once.
_DOVECOT_LIMITS = """
# Added by benchmarks/harness.py: room for 1,000+ concurrent connections.
default_process_limit = 2000
default_client_limit = 8000
service imap-login {
  process_limit = 1500
}
service imap {
  process_limit = 2048
}
"""


def user_email(n: int) -> str:
    """The n-th benchmark user: 0 is EMAIL, the others bench<n>@example.test."""
    return EMAIL if n == 0 else f"bench{n}@example.test"


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def rss_kb(pid: int) -> int:
    return _status_kb(pid, "VmRSS")


def reset_peak(pid: int) -> int:
    """Reset the process's peak RSS (VmHWM) to its current RSS; returns that RSS in KiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_kb(pid, "VmRSS")


def peak_growth_kb(pid: int, base_kb: int) -> int:
    return _status_kb(pid, "VmHWM") - base_kb


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of these processes (those still alive)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def dovecot_pids(master: int) -> list[int]:
    """The Dovecot master and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [master]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


@dataclass
class Bench:
    dovecot: Dovecot
    url: str
    pid: int
    web_ssl: ssl.SSLContext
    imap_ssl: ssl.SSLContext
    users: list[str] = field(default_factory=lambda: [EMAIL])
    smtp_port: int | None = None
    # CA files behind web_ssl / imap_ssl, for load generators in other processes.
    web_ca_file: str = ""
    imap_ca_file: str = ""

    @property
    def dovecot_master(self) -> int:
        return int(self.dovecot.pid_file.read_text().split()[0])


@contextlib.contextmanager
def _smtp_sink(dc: Dovecot) -> Iterator[int]:
    """The SMTP submission server in its own process, with a certificate mailgate trusts
    (issued by the CA mailgate already trusts for Dovecot)."""
    cert = dc.ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = dc.root / "smtp-cert.pem", dc.root / "smtp-key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(_HERE / "smtp_sink.py"),
            "--port",
            str(port),
            "--cert",
            str(cert_file),
            "--key",
            str(key_file),
        ],
        env={**os.environ, "BENCH_SMTP_PASSWORD": PASSWORD},
    )
    try:
        _wait_for_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(20)


@contextlib.contextmanager
def running(
    *,
    users: int = 1,
    smtp: bool = False,
    fts: bool = False,
    dovecot_settings: str = "",
    **extra_env: str,
) -> Iterator[Bench]:
    """Dovecot with ``users`` benchmark users (all with PASSWORD), optionally an SMTP
    submission server, and mailgate serving HTTPS in a subprocess. ``fts`` gives Dovecot
    its full-text index (dovecot-fts-xapian, see tests/servers/dovecot.py);
    ``dovecot_settings`` are lines added to its configuration.

    ``extra_env`` are MAILGATE_* settings for the server."""
    dc = Dovecot(fts=fts)
    with dc.config_file.open("a") as conf:
        conf.write(_DOVECOT_LIMITS + dovecot_settings)
    dc.start()
    ca = LocalCA()
    proc = None
    try:
        emails = [user_email(n) for n in range(users)]
        for email in emails:
            dc.add_user(email, PASSWORD)
        with contextlib.ExitStack() as stack:
            smtp_port = stack.enter_context(_smtp_sink(dc)) if smtp else None
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
                "MAILGATE_UPSTREAM_ALLOW_ANY_PORT": "true",
                "MAILGATE_LOG_LEVEL": "warning",
                **({"MAILGATE_SMTP_PORT": str(smtp_port)} if smtp_port else {}),
                **extra_env,
            }
            proc = subprocess.Popen([sys.executable, "-m", "mailgate", "serve"], env=env)
            _wait_for_port(port)
            yield Bench(
                dc,
                f"https://localhost:{port}",
                proc.pid,
                ssl.create_default_context(cafile=ca.ca_pem_path),
                ssl.create_default_context(cafile=dc.ca_file),
                emails,
                smtp_port,
                ca.ca_pem_path,
                dc.ca_file,
            )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        dc.stop()
        dc.cleanup()
        ca.cleanup()
