"""Structured logs: one JSON object per line on stdout, never personal data.

Callers pass only fixed event names and values that describe *what* happened (route
templates, status codes, error classes, durations, counts), never who or about what.
`json.dumps` escapes control characters, so nothing can forge a second log line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

__all__ = ["configure_logging", "log_event", "logger", "quiet_sandbox_loggers"]

logger = logging.getLogger("mailgate")


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # The class only: exception text can hold user data or server replies.
            entry["error_class"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=True, default=str, separators=(",", ":"))


class _JsonLineHandler(logging.StreamHandler[TextIO]):
    """The handler configure_logging installs: marked so that a second call (and the
    demo, which points it at a file) can find it."""

    _mailgate = True


def configure_logging(level: str = "info") -> None:
    """Send mailgate's and aiohttp's logs to stdout as JSON lines."""
    handler = _JsonLineHandler(sys.stdout)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_mailgate", False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # aiohttp's own access logger is replaced by ours (see http/access_log.py); its
    # server logger could print request lines on protocol errors, so keep it quiet.
    logging.getLogger("aiohttp.access").setLevel(logging.CRITICAL)
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    logging.getLogger("aiohttp.web").setLevel(logging.CRITICAL)


def quiet_sandbox_loggers() -> None:
    """The sandbox's servers (aiosmtpd, pymap) log peer addresses; `mailgate demo` runs
    them in-process, so keep them out of the log stream."""
    for name in ("mail.log", "pymap", "asyncio", "aiohttp.access", "aiohttp.server", "aiohttp.web"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with safe, structured fields."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})
