"""A private, memory-only redis-server instance for integration tests."""

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

from .ports import free_port, wait_for_closed, wait_for_listen
from .process import PrivateServer, alive, read_text

__all__ = ["RedisServer", "running_redis"]


class RedisServer(PrivateServer):
    """``redis-server`` on 127.0.0.1 with a random password, no persistence, stopped by PID.

    ``start()`` after ``stop()`` reuses the same port and password (data is gone: it is
    memory-only), for "Redis went away mid-test" tests.
    """

    host = "127.0.0.1"

    def __init__(self, port: int | None = None, password: str | None = None) -> None:
        self.port = port or free_port()
        self.password = password or secrets.token_hex(16)
        self.root = Path(tempfile.mkdtemp(prefix="mailgate-redis-"))
        self.pid_file = self.root / "redis.pid"
        self.log_file = self.root / "redis.log"
        self._pid: int | None = None

    @staticmethod
    def available() -> bool:
        """Whether ``redis-server`` is installed."""
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        """Connection URL with the password, database 0."""
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the daemon and wait until it accepts connections."""
        if self._pid is not None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        # The password goes through stdin (a config file on "-"), not argv, so `ps` cannot see it.
        config = f"requirepass {self.password}\n"
        subprocess.run(
            [
                "redis-server",
                "-",
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pid_file),
                "--logfile",
                str(self.log_file),
                "--dir",
                str(self.root),
            ],
            input=config,
            text=True,
            check=True,
            # A daemon may keep inherited fds open: never give it a pipe to wait on.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not (pid_text := read_text(self.pid_file)).strip():
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server wrote no pid file\n{self.log()}")
            time.sleep(0.01)
        self._pid = int(pid_text.strip())
        wait_for_listen(self.port, self.host, timeout=max(0.1, deadline - time.monotonic()))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by its PID and wait until the port is closed."""
        pid, self._pid = self._pid, None
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        wait_for_closed(self.port, max(0.0, deadline - time.monotonic()))


@contextlib.contextmanager
def running_redis(**kwargs: object) -> Iterator[RedisServer]:
    """Start a private Redis (``RedisServer(**kwargs)``), yield it, then stop and clean up."""
    server = RedisServer(**kwargs)  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
