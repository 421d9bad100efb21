"""A private Redis primary, one replica and three Sentinels on 127.0.0.1, for failover tests.

The data nodes have an ACL user for mailgate (its own password) beside the default user,
which replication and the sentinels use; the sentinels have a password of their own.
Everything is memory-only and stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from .ports import free_port, wait_for_listen
from .process import alive, read_text

__all__ = ["SentinelCluster", "running_sentinels"]

SERVICE = "mailgate-primary"


class SentinelCluster:
    host = "127.0.0.1"

    def __init__(self, down_after_ms: int = 1000, replicas: int = 1) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mailgate-sentinel-"))
        self.admin_password = secrets.token_hex(16)
        self.username = "mailgate"
        self.password = secrets.token_hex(16)
        self.sentinel_password = secrets.token_hex(16)
        self.service = SERVICE
        self.down_after_ms = down_after_ms
        self.node_ports = [free_port() for _ in range(1 + replicas)]
        self.sentinel_ports = [free_port(), free_port(), free_port()]
        self.pids: dict[int, int] = {}

    @staticmethod
    def available() -> bool:
        return bool(shutil.which("redis-server") and shutil.which("redis-sentinel"))

    @property
    def sentinels(self) -> list[str]:
        return [f"{self.host}:{port}" for port in self.sentinel_ports]

    def store_settings(self, **extra: object) -> dict[str, object]:
        """The `[store]` section for mailgate."""
        return {
            "backend": "redis",
            "sentinel_service": self.service,
            "sentinels": self.sentinels,
            "redis_username": self.username,
            "redis_password": self.password,
            "sentinel_password": self.sentinel_password,
            **extra,
        }

    def _daemon(self, name: str, port: int, argv: list[str], config: Path) -> None:
        pid_file = self.root / f"{name}.pid"
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
        subprocess.run(
            [*argv, str(config)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not (text := read_text(pid_file)).strip():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} wrote no pid file\n{self.logs()}")
            time.sleep(0.01)
        self.pids[port] = int(text.strip())
        wait_for_listen(port, self.host, timeout=10)

    def _common(self, name: str, port: int) -> str:
        return (
            f"port {port}\nbind {self.host}\ndaemonize yes\n"
            f"pidfile {self.root / (name + '.pid')}\nlogfile {self.root / (name + '.log')}\n"
            f"dir {self.root}\n"
        )

    def start_node(self, index: int) -> None:
        port = self.node_ports[index]
        name = f"node{index}"
        config = self.root / f"{name}.conf"
        text = self._common(name, port) + (
            'save ""\nappendonly no\n'
            f"requirepass {self.admin_password}\nmasterauth {self.admin_password}\n"
            f"user {self.username} on >{self.password} ~mailgate:* &* +@all\n"
            f"dbfilename {name}.rdb\nrepl-diskless-sync-delay 0\n"
        )
        if index:
            text += f"replicaof {self.host} {self.node_ports[0]}\n"
        config.write_text(text)
        config.chmod(0o600)
        self._daemon(name, port, ["redis-server"], config)

    def start(self) -> None:
        """The primary, its replicas, then the sentinels, each once the last is ready."""
        for index in range(len(self.node_ports)):
            self.start_node(index)
        self.wait_replicated()
        for n, port in enumerate(self.sentinel_ports):
            name = f"sentinel{n}"
            config = self.root / f"{name}.conf"
            config.write_text(
                self._common(name, port)
                + f"sentinel monitor {self.service} {self.host} {self.node_ports[0]} 2\n"
                f"sentinel auth-pass {self.service} {self.admin_password}\n"
                f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.service} 10000\n"
                f"requirepass {self.sentinel_password}\n"
            )
            config.chmod(0o600)
            self._daemon(name, port, ["redis-sentinel"], config)
        self.wait_for_sentinels()

    def admin(self, port: int) -> redis.Redis:
        return redis.Redis(self.host, port, password=self.admin_password, socket_timeout=2)

    def sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(self.host, port, password=self.sentinel_password, socket_timeout=2)

    def wait_replicated(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        with self.admin(self.node_ports[0]) as primary:
            while True:
                info = primary.info("replication")
                online = [
                    n
                    for n in range(len(self.node_ports) - 1)
                    if info.get(f"slave{n}", {}).get("state") == "online"
                ]
                if len(online) == len(self.node_ports) - 1:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the replica did not connect\n{self.logs()}")
                time.sleep(0.05)

    def wait_for_sentinels(self, timeout: float = 20) -> None:
        """Until every sentinel knows the other two and the replica."""
        deadline = time.monotonic() + timeout
        for port in self.sentinel_ports:
            with self.sentinel(port) as s:
                while True:
                    info = s.sentinel_master(self.service)
                    replicas = len(self.node_ports) - 1
                    others = int(info["num-other-sentinels"])
                    if others >= 2 and int(info["num-slaves"]) >= replicas:
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"sentinels did not converge\n{self.logs()}")
                    time.sleep(0.1)

    def primary_port(self) -> int:
        with self.sentinel(self.sentinel_ports[0]) as s:
            _, port = s.sentinel_get_master_addr_by_name(self.service)
            return int(port)

    def kill(self, port: int) -> None:
        """SIGKILL a node by its PID: no shutdown, no goodbye to the replicas."""
        pid = self.pids.pop(port)
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.01)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.root.glob("*.log"))
        )

    def stop(self) -> None:
        for pid in self.pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in list(self.pids.values()):
            while alive(pid):
                time.sleep(0.01)
        self.pids.clear()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_sentinels(**kwargs: int) -> Iterator[SentinelCluster]:
    cluster = SentinelCluster(**kwargs)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()
