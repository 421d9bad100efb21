"""/healthz and /readyz answers."""

from __future__ import annotations

from typing import Literal

from .base import ResponseBody

__all__ = ["Alive", "Ready", "ReadyChecks"]

CheckResult = Literal["ok", "unavailable"]


class Alive(ResponseBody):
    status: Literal["ok"]


class ReadyChecks(ResponseBody):
    store: CheckResult
    # partial: some mail domains' IMAP servers are unreachable, others work (still ready).
    imap: Literal["ok", "partial", "unavailable"]


class Ready(ResponseBody):
    status: CheckResult
    checks: ReadyChecks
