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
    imap: CheckResult


class Ready(ResponseBody):
    status: CheckResult
    checks: ReadyChecks
