"""Three `mailgate serve` processes on 127.0.0.1 sharing a Redis store, behind a real HAProxy
running the shipped `config/haproxy.cfg` (TLS in front, TLS re-encryption to the instances,
health checks on /readyz). Each instance logs to its own file, so a test can tell which
instance answered what. Everything is stopped by PID."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mailgate.check import healthcheck
from mailgate.sandbox.ca import LocalCA

from .ports import free_port, wait_for_listen

__all__ = ["HAPROXY_CFG", "MailgateCluster"]

HAPROXY_CFG = Path(__file__).resolve().parents[2] / "config" / "haproxy.cfg"


def _env(settings: dict[str, dict[str, Any]]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGATE_")}
    for section, items in settings.items():
        for key, value in items.items():
            if isinstance(value, list | tuple):
                value = ",".join(str(v) for v in value)
            env[f"MAILGATE_{section}_{key}".upper()] = str(value)
    return env


class MailgateCluster:
    def __init__(self, settings: dict[str, dict[str, Any]], count: int = 3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mailgate-cluster-"))
        self.settings = settings
        self.ca = LocalCA()
        self.cert, self.key = self.ca.issue("localhost", "127.0.0.1")
        self.ports = [free_port() for _ in range(count)]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.port = free_port()
        self.url = f"https://localhost:{self.port}"
        self.haproxy: subprocess.Popen[bytes] | None = None
        self.starts = [0] * count

    @staticmethod
    def available() -> bool:
        return shutil.which("haproxy") is not None

    def client_ssl(self) -> Any:
        return self.ca.client_context()

    def instance_env(self, index: int) -> dict[str, str]:
        env = _env(self.settings)
        env.update(
            MAILGATE_SERVER_HOST="127.0.0.1",
            MAILGATE_SERVER_PORT=str(self.ports[index]),
            MAILGATE_SERVER_TRUSTED_PROXIES="127.0.0.1",
            MAILGATE_SERVER_PUBLIC_URL=self.url,
            MAILGATE_SERVER_SHUTDOWN_TIMEOUT_S="10",
            MAILGATE_TLS_CERT_FILE=self.cert,
            MAILGATE_TLS_KEY_FILE=self.key,
            MAILGATE_DATA_DIR=str(self.root / f"data{index}"),
            MAILGATE_DATA_SECRET_FILE=str(self.root / "server.secret"),
            TMPDIR=str(self.root),
        )
        return env

    def log_path(self, index: int) -> Path:
        return self.root / f"mg{index}.{self.starts[index]}.log"

    def start_instance(self, index: int, timeout: float = 30) -> None:
        self.starts[index] += 1
        env = self.instance_env(index)
        with open(self.log_path(index), "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mailgate", "serve"],
                env=env,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs[index] = proc
        deadline = time.monotonic() + timeout
        while healthcheck(environ=env, timeout=1.0) != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"instance {index} did not start\n{self.output(index)}")
            time.sleep(0.1)

    def signal_instance(self, index: int, sig: int = signal.SIGTERM) -> subprocess.Popen[bytes]:
        proc = self.procs.pop(index)
        proc.send_signal(sig)
        return proc

    def stop_instance(self, index: int, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        proc = self.signal_instance(index, sig)
        return proc.wait(timeout)

    def output(self, index: int) -> str:
        logs = sorted(self.root.glob(f"mg{index}.*.log"))
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in logs)

    def requests_served(self, index: int) -> list[dict[str, Any]]:
        """The `request` log events of instance `index` (all its runs)."""
        out = []
        for path in sorted(self.root.glob(f"mg{index}.*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    event = json.loads(line)
                    if event.get("event") == "request":
                        out.append(event)
        return out

    def start_haproxy(self) -> None:
        pem = self.root / "front.pem"
        pem.write_text(Path(self.cert).read_text() + Path(self.key).read_text())
        pem.chmod(0o600)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HAPROXY_BIND": f"127.0.0.1:{self.port}",
            "HAPROXY_CERT": str(pem),
            "MAILGATE_CA_FILE": self.ca.ca_pem_path,
            "MAILGATE_SNI": "localhost",
            "MAILGATE_PUBLIC_HOST": f"localhost:{self.port}",
        }
        for n, port in enumerate(self.ports, 1):
            env[f"MAILGATE_{n}"] = f"127.0.0.1:{port}"
        self.haproxy = subprocess.Popen(
            ["haproxy", "-db", "-f", str(HAPROXY_CFG)],
            env=env,
            stdout=open(self.root / "haproxy.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        wait_for_listen(self.port, "127.0.0.1", timeout=10)

    def wait_balanced(self, timeout: float = 20) -> None:
        """Until HAProxy's health checks have every instance up: a round of /healthz
        requests reaches each of them."""
        import ssl
        import urllib.request

        ctx = ssl.create_default_context(cafile=self.ca.ca_pem_path)
        deadline = time.monotonic() + timeout
        while True:
            before = [len(self.requests_served(i)) for i in range(len(self.ports))]
            for _ in range(len(self.ports) * 2):
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(self.url + "/healthz", context=ctx, timeout=2).read()
            after = [len(self.requests_served(i)) for i in range(len(self.ports))]
            if all(a > b for a, b in zip(after, before, strict=True)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError((self.root / "haproxy.log").read_text(errors="replace"))
            time.sleep(0.5)

    def start(self) -> MailgateCluster:
        for index in range(len(self.ports)):
            self.start_instance(index)
        self.start_haproxy()
        self.wait_balanced()
        return self

    def cleanup(self) -> None:
        for index in list(self.procs):
            proc = self.procs.pop(index)
            proc.kill()
            proc.wait()
        if self.haproxy is not None:
            self.haproxy.kill()
            self.haproxy.wait()
        self.ca.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)
