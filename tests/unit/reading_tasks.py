"""Tasks for the worker-pool tests (importable by a spawned worker)."""

from __future__ import annotations

import os
import time


def sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def fail() -> None:
    raise ValueError("in the worker")
