"""Free TCP ports on the loopback interface for private test servers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

__all__ = ["free_port", "is_listening", "wait_for_closed", "wait_for_listen", "wait_for_port"]

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (the kernel picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_listening(port: int) -> bool | None:
    """Whether some socket listens on ``port`` (from /proc/net/tcp*), None if unknowable.

    Unlike a probe connection this does not make the server fork a handler process.
    """
    seen_table = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        seen_table = True
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _LISTEN and fields[1].endswith(f":{port:04X}"):
                return True
    return False if seen_table else None


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on ``host:port`` (probe connections)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port}") from None
            time.sleep(0.02)


def wait_for_listen(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    """Block until ``port`` is in LISTEN state, without connecting when /proc tells us."""
    deadline = time.monotonic() + timeout
    while (state := is_listening(port)) is False:
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listening on port {port}")
        time.sleep(0.01)
    if state is None:
        wait_for_port(port, host, max(0.1, deadline - time.monotonic()))


def wait_for_closed(port: int, timeout: float = 10.0) -> None:
    """Block until nothing listens on ``port`` any more (best effort without /proc)."""
    deadline = time.monotonic() + timeout
    while is_listening(port) and time.monotonic() < deadline:
        time.sleep(0.01)
