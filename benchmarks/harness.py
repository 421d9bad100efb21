"""Shared by the benchmarks: a private Dovecot, `mailgate serve` in its own process
(so its memory is measured alone), and peak-RSS readings from /proc."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailgate.sandbox.ca import LocalCA
from mailgate.testing.servers import free_port
from tests.servers.dovecot import Dovecot

__all__ = ["EMAIL", "PASSWORD", "Bench", "peak_growth_kb", "reset_peak", "running"]

EMAIL, PASSWORD = "bench@example.test", "bench-password"


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def reset_peak(pid: int) -> int:
    """Reset the process's peak RSS (VmHWM) to its current RSS; returns that RSS in KiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_kb(pid, "VmRSS")


def peak_growth_kb(pid: int, base_kb: int) -> int:
    return _status_kb(pid, "VmHWM") - base_kb


@dataclass
class Bench:
    dovecot: Dovecot
    url: str
    pid: int
    web_ssl: ssl.SSLContext
    imap_ssl: ssl.SSLContext


@contextlib.contextmanager
def running(**extra_env: str) -> Iterator[Bench]:
    """Dovecot with the benchmark user, and mailgate serving HTTPS in a subprocess."""
    dc = Dovecot()
    dc.start()
    ca = LocalCA()
    proc = None
    try:
        dc.add_user(EMAIL, PASSWORD)
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
            **extra_env,
        }
        proc = subprocess.Popen([sys.executable, "-m", "mailgate", "serve"], env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        yield Bench(
            dc,
            f"https://localhost:{port}",
            proc.pid,
            ssl.create_default_context(cafile=ca.ca_pem_path),
            ssl.create_default_context(cafile=dc.ca_file),
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        dc.stop()
        dc.cleanup()
        ca.cleanup()
