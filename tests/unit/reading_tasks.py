"""Tasks for the worker-pool tests (importable by a spawned worker)."""

from __future__ import annotations

import os
import time


def sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def fail() -> None:
    raise ValueError("in the worker")


def niceness() -> tuple[int, int]:
    """The worker's pid and its (main thread's) niceness."""
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0)


def busy_then_niceness(seconds: float) -> tuple[int, int]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return niceness()


def die() -> None:
    """The worker process ends in the middle of its task (as a crash would)."""
    os._exit(3)


def echo_reversed(data: bytes) -> bytes:
    return data[::-1]


def sleep_then_die(seconds: float) -> None:
    """Busy for a while, then the worker process ends (a crash after some work)."""
    time.sleep(seconds)
    os._exit(3)
