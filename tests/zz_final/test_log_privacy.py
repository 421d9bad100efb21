"""Runs last: the whole suite's captured log holds no personal data (invariant 5,
SEC-55, SEC-56, SEC-57)."""

from __future__ import annotations

import json

from tests.conftest import CANARIES, SUITE_LOG

FORBIDDEN_FIXED = ["127.0.0.1", "::1", "INBOX", "Entwürfe", "Grüße", "zebra", "résumé"]


def test_sec_55_suite_log_holds_no_personal_data():
    log = SUITE_LOG.read_text("utf-8")
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) > 50, "the suite should have logged its requests"
    assert CANARIES, "tests registered their accounts"
    for canary in CANARIES | set(FORBIDDEN_FIXED):
        assert canary not in log, "personal data in the log"
        escaped = json.dumps(canary)[1:-1]
        assert escaped not in log, "personal data (escaped) in the log"


def test_sec_56_every_line_is_one_json_event_without_urls():
    for line in SUITE_LOG.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        assert {"ts", "level", "event"} <= set(entry)
        if entry["event"] == "request":
            assert set(entry) <= {
                "ts",
                "level",
                "event",
                "method",
                "route",
                "status",
                "duration_ms",
                "bytes",
            }
            assert "?" not in entry["route"]
