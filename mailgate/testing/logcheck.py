"""The log-privacy check: each test's log, as mailgate writes it, holds no personal data.

Every log record emitted while a test runs (its setup, call and teardown, from any
thread: servers under test run in background threads) is formatted with the JSON-lines
formatter the server uses, and scanned for

- every canary registered so far (accounts, passwords, subjects, mailbox names, search
  terms: `CANARIES.add(...)` or the `log_canaries` fixture), raw and JSON-escaped;
- anything shaped like an e-mail address or an IPv4 address;
- lines that are not one JSON event (`ts`, `level`, `event`), and `request` lines with
  more than the route template (no URL, no query).

A test whose records fail is reported as an error at its teardown that names it. Enable
with `mailgate_log_privacy = true` in the pytest configuration (see plugin.py).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from mailgate.logs import JsonLineFormatter

__all__ = ["CANARIES", "Canaries", "Leak", "LogLines", "LogPrivacyCheck", "find_leaks"]

# An address anywhere in a line (the local part stops at JSON quotes and separators).
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_REQUEST_FIELDS = frozenset(
    {"ts", "level", "event", "method", "route", "status", "duration_ms", "bytes"}
)
# Shorter values would match by chance; fixed strings given explicitly have no minimum.
_MIN_CANARY = 4


class Canaries:
    """Strings that must never appear in a log, with what each one is (for the report)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}

    def add(self, *values: str, kind: str = "personal data", any_length: bool = False) -> None:
        with self._lock:
            for value in values:
                if value and (any_length or len(value) >= _MIN_CANARY):
                    self._values.setdefault(value, kind)

    def items(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._values.items())

    def __contains__(self, value: object) -> bool:
        with self._lock:
            return value in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


# The canaries of this test process: fixtures that make accounts register them here.
CANARIES = Canaries()


@dataclass(frozen=True)
class Leak:
    line: int
    what: str

    def __str__(self) -> str:
        return f"log line {self.line + 1}: {self.what}"


def find_leaks(lines: Iterable[str], canaries: Iterable[tuple[str, str]]) -> list[Leak]:
    """What is wrong with these JSON log lines: personal data, or a line that is not one
    safe JSON event. Pure, so the check itself is tested (tests/unit/test_logcheck.py)."""
    needles: list[tuple[str, str]] = []
    for value, kind in canaries:
        needles.append((value, kind))
        escaped = json.dumps(value, ensure_ascii=True)[1:-1]
        if escaped != value:
            needles.append((escaped, kind))
    lines = list(lines)
    # One scan of the whole text per canary; lines are looked at only for those found.
    text = "\n".join(lines)
    found = [(needle, kind) for needle, kind in needles if needle in text]
    leaks: list[Leak] = []
    for n, line in enumerate(lines):
        for needle, kind in found:
            if needle in line:
                leaks.append(Leak(n, f"holds a registered {kind}"))
        if _ADDRESS.search(line):
            leaks.append(Leak(n, "holds an e-mail address"))
        if _IPV4.search(line):
            leaks.append(Leak(n, "holds an IP address"))
        leaks.extend(Leak(n, problem) for problem in _shape_problems(line))
    return leaks


def _shape_problems(line: str) -> list[str]:
    try:
        entry = json.loads(line)
    except ValueError:
        return ["is not JSON"]
    if not isinstance(entry, dict) or not {"ts", "level", "event"} <= set(entry):
        return ["is not one event (ts, level, event)"]
    if entry["event"] == "request":
        extra = set(entry) - _REQUEST_FIELDS
        if extra:
            return [f"is a request line with more than the route: {sorted(extra)}"]
        if "?" in str(entry.get("route", "")):
            return ["is a request line with a query"]
    return []


class LogLines(logging.Handler):
    """Log records formatted as the server writes them, kept per test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonLineFormatter())
        self._lock_lines = threading.Lock()
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted is itself a finding
            line = f"<unformattable record from {record.name}>"
        with self._lock_lines:
            self._lines.extend(line.split("\n"))  # two lines from one record fail the shape

    def take(self) -> list[str]:
        with self._lock_lines:
            lines, self._lines = self._lines, []
        return lines

    def peek(self) -> list[str]:
        with self._lock_lines:
            return list(self._lines)


class LogPrivacyCheck:
    """The pytest side: collects each test's lines and fails the test that leaked."""

    def __init__(
        self, canaries: Canaries = CANARIES, fixed: Iterable[str] = (), root: str = ""
    ) -> None:
        self.canaries = canaries
        canaries.add(*fixed, kind="forbidden string", any_length=True)
        self._logger = logging.getLogger(root)
        self.lines = LogLines()
        self._orphans: list[str] = []
        self._levels: dict[logging.Logger, int] = {}

    def install(self) -> None:
        """Collect from the root logger, with at least what production logs (INFO) and
        every level of mailgate's own events."""
        self._levels = {
            logger: logger.level for logger in (self._logger, logging.getLogger("mailgate"))
        }
        if self._logger.getEffectiveLevel() > logging.INFO:
            self._logger.setLevel(logging.INFO)
        logging.getLogger("mailgate").setLevel(logging.DEBUG)
        self._logger.addHandler(self.lines)

    def uninstall(self) -> None:
        self._logger.removeHandler(self.lines)
        for logger, level in self._levels.items():
            logger.setLevel(level)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        # What was logged between tests (collection, a fixture torn down late) is kept
        # for the end of the session.
        self._orphans.extend(self.lines.take())
        item.stash[_LINES] = []
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        lines = item.stash.setdefault(_LINES, [])
        lines.extend(self.lines.take())
        if call.when == "teardown":
            leaks = find_leaks(lines, self.canaries.items())
            if leaks:
                message = _describe(item.nodeid, leaks, lines)
                if report.failed:
                    report.sections.append(("mailgate log privacy", message))
                else:
                    report.outcome = "failed"
                    report.longrepr = message
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        lines = self._orphans + self.lines.take()
        leaks = find_leaks(lines, self.canaries.items())
        if leaks:
            message = _describe("(outside any test)", leaks, lines)
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(message, red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def entries(self, item: pytest.Item) -> list[dict[str, Any]]:
        """The item's log so far (setup included) as parsed JSON events."""
        lines = item.stash.setdefault(_LINES, []) + self.lines.peek()
        return [json.loads(line) for line in lines]


_LINES = pytest.StashKey[list[str]]()


def _describe(nodeid: str, leaks: list[Leak], lines: list[str]) -> str:
    shown = [f"  {leak}: {lines[leak.line][:300]}" for leak in leaks[:10]]
    more = f"\n  ... and {len(leaks) - 10} more" if len(leaks) > 10 else ""
    return (
        f"{nodeid} logged what the log must never hold (invariant 5, SEC-55/56):\n"
        + "\n".join(shown)
        + more
    )
