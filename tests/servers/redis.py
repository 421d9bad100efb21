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

__all__ = ["RedisServer", "running_redis"]


class RedisServer:
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
        while not (pid_text := _read_text(self.pid_file)).strip():
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
        while _alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        wait_for_closed(self.port, max(0.0, deadline - time.monotonic()))

    def cleanup(self) -> None:
        """Stop the server and remove its temp dir."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """The server log so far (for failure messages)."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


@contextlib.contextmanager
def running_redis(**kwargs: object) -> Iterator[RedisServer]:
    """Start a private Redis (``RedisServer(**kwargs)``), yield it, then stop and clean up."""
    server = RedisServer(**kwargs)  # type: ignore[arg-type]
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
